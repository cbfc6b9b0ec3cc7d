// @ts-check
// Dates, times and money for people.
//
// Rule of this file: no time is ever shown in the browser's own zone.
// - Slot and booking times are shown from the API's `local_*` strings
//   ("2026-12-03T10:00:00+00:00"), which are already clinic-local wall-clock
//   times: the date and the hh:mm are read straight from the text.
// - Plain dates ("2026-12-03") are turned into words with Intl in UTC, where a
//   calendar date has no offset to shift it.
// - The few instants the API gives only in UTC (hold expiry, cancellation
//   deadline) are formatted with Intl in the clinic's zone from /v1/clinic.

const LOCALE = "en-GB";

/** Friendly names for zones; anything else is named "clinic time". */
const ZONE_NAMES = /** @type {Record<string, string>} */ ({ "Europe/London": "UK time" });

/** "UK time (Europe/London)" */
export function zoneLabel(/** @type {string} */ zone) {
  return `${ZONE_NAMES[zone] ?? "clinic time"} (${zone})`;
}

/** "UK time" */
export function zoneShort(/** @type {string} */ zone) {
  return ZONE_NAMES[zone] ?? "clinic time";
}

/**
 * Splits "YYYY-MM-DD" into numbers.
 * @param {string} date
 * @returns {[number, number, number]}
 */
function ymd(date) {
  const [y, m, d] = date.split("-").map(Number);
  return [y ?? 0, m ?? 1, d ?? 1];
}

/** A calendar date as a Date at UTC midnight (only ever formatted in UTC). */
function utcDate(/** @type {string} */ date) {
  const [y, m, d] = ymd(date);
  return new Date(Date.UTC(y, m - 1, d));
}

/** "2026-12-03" + n days, as "YYYY-MM-DD". */
export function addDays(/** @type {string} */ date, /** @type {number} */ days) {
  const dt = utcDate(date);
  dt.setUTCDate(dt.getUTCDate() + days);
  return dt.toISOString().slice(0, 10);
}

/** Today's date in the given zone, "YYYY-MM-DD". */
export function todayIn(/** @type {string} */ zone) {
  const parts = new Intl.DateTimeFormat("en-CA", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit" })
    .formatToParts(new Date());
  /** @param {string} type */
  const get = (type) => parts.find((p) => p.type === type)?.value ?? "";
  return `${get("year")}-${get("month")}-${get("day")}`;
}

/** "Thursday 3 December 2026" */
export function longDate(/** @type {string} */ date) {
  return new Intl.DateTimeFormat(LOCALE, { timeZone: "UTC", weekday: "long", day: "numeric", month: "long", year: "numeric" })
    .format(utcDate(date));
}

/** "Thursday 3 December" */
export function dayLabel(/** @type {string} */ date) {
  return new Intl.DateTimeFormat(LOCALE, { timeZone: "UTC", weekday: "long", day: "numeric", month: "long" })
    .format(utcDate(date));
}

/** "Thu 3 Dec" */
export function shortDayLabel(/** @type {string} */ date) {
  return new Intl.DateTimeFormat(LOCALE, { timeZone: "UTC", weekday: "short", day: "numeric", month: "short" })
    .format(utcDate(date));
}

/** The clinic-local date of an API `local_*` string. */
export function localDate(/** @type {string} */ local) {
  return local.slice(0, 10);
}

/** The clinic-local "hh:mm" of an API `local_*` string. */
export function localTime(/** @type {string} */ local) {
  return local.slice(11, 16);
}

/** "Thursday 3 December 2026 at 10:00" from an API `local_starts_at`. */
export function localDateTime(/** @type {string} */ local) {
  return `${longDate(localDate(local))} at ${localTime(local)}`;
}

/**
 * An instant (RFC 3339, UTC) in the clinic's zone.
 * @param {string | Date} instant
 * @param {string} zone
 * @param {{withDate?: boolean}} [opts]
 * @returns {string} "10:15" or "Tuesday 1 December 2026 at 10:15"
 */
export function instantIn(instant, zone, opts = {}) {
  const at = typeof instant === "string" ? new Date(instant) : instant;
  const time = new Intl.DateTimeFormat(LOCALE, { timeZone: zone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" })
    .format(at);
  if (!opts.withDate) return time;
  const date = new Intl.DateTimeFormat(LOCALE, { timeZone: zone, weekday: "long", day: "numeric", month: "long", year: "numeric" })
    .format(at);
  return `${date} at ${time}`;
}

/** "£25.00" */
export function money(/** @type {{amount: number, currency: string}} */ m) {
  return new Intl.NumberFormat(LOCALE, { style: "currency", currency: m.currency }).format(m.amount / 100);
}

/** "12 April 1990" from "1990-04-12" */
export function birthDate(/** @type {string} */ date) {
  return new Intl.DateTimeFormat(LOCALE, { timeZone: "UTC", day: "numeric", month: "long", year: "numeric" })
    .format(utcDate(date));
}

/**
 * A real calendar date from day, month and year fields, or null.
 * @param {string} day @param {string} month @param {string} year
 * @returns {string | null} "YYYY-MM-DD"
 */
export function composeDate(day, month, year) {
  if (!/^\d{1,2}$/.test(day) || !/^\d{1,2}$/.test(month) || !/^\d{4}$/.test(year)) return null;
  const iso = `${year}-${month.padStart(2, "0")}-${day.padStart(2, "0")}`;
  const [y, m, d] = ymd(iso);
  const dt = new Date(Date.UTC(y, m - 1, d));
  if (dt.getUTCFullYear() !== y || dt.getUTCMonth() !== m - 1 || dt.getUTCDate() !== d) return null;
  return iso;
}

/** "30 minutes", "1 hour 15 minutes" */
export function minutes(/** @type {number} */ n) {
  const h = Math.floor(n / 60);
  const m = n % 60;
  const parts = [];
  if (h) parts.push(`${h} hour${h === 1 ? "" : "s"}`);
  if (m || !h) parts.push(`${m} minute${m === 1 ? "" : "s"}`);
  return parts.join(" ");
}

/** Minutes between two RFC 3339 instants. */
export function minutesBetween(/** @type {string} */ from, /** @type {string} */ to) {
  return Math.round((Date.parse(to) - Date.parse(from)) / 60000);
}

/** "about_asymmetry" → "About asymmetry" */
export function topicLabel(/** @type {string} */ code) {
  const words = code.replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}
