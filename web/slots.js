// @ts-check
// The slot picker: free times from GET /v1/availability, grouped by
// clinic-local day, as two groups of native radio buttons (days, then the
// times of the chosen day). Used by the booking page and by the manage page
// to move a booking.
//
// Only the API's slots are offered, with the API's own `local_starts_at`
// text for the label: nothing is computed in the browser's time zone, and a
// time that does not exist (the spring-forward hour) can never appear.

import { getAvailability } from "./api.js";
import { addDays, dayLabel, localDate, localTime, shortDayLabel, todayIn, zoneLabel } from "./format.js";
import { h } from "./ui.js";

/** @typedef {import("./api.js").AvailableSlot} AvailableSlot */

/** Days in one availability request (the API takes at most 31, inclusive). */
const WINDOW_DAYS = 31;
/** How many windows "Show later dates" may load in all (the booking horizon is about 60 days). */
const MAX_WINDOWS = 3;

export class SlotPicker {
  /**
   * @param {object} opts
   * @param {HTMLElement} opts.root the container (its space is reserved in CSS while loading)
   * @param {string} opts.zone the clinic's IANA zone
   * @param {string} opts.name prefix for the radio groups' names and ids
   * @param {Map<string, string>} [opts.practitioners] id → name, shown when there are several
   * @param {(slot: AvailableSlot | null) => void} [opts.onChange]
   * @param {(message: string) => void} [opts.onAnnounce] tells screen readers what loaded
   */
  constructor(opts) {
    this.root = opts.root;
    this.zone = opts.zone;
    this.name = opts.name;
    this.practitioners = opts.practitioners ?? new Map();
    this.onChange = opts.onChange ?? (() => {});
    this.onAnnounce = opts.onAnnounce ?? (() => {});
    /** @type {AvailableSlot[]} */
    this.slots = [];
    /** Dates loaded so far: [first, last], inclusive. */
    this.from = todayIn(this.zone);
    this.windows = 0;
    this.exhausted = false;
    /** @type {string | null} clinic-local date of the shown day */
    this.day = null;
    /** @type {string | null} starts_at of the chosen slot */
    this.chosen = null;
    /** @type {Set<string>} starts_at (+practitioner) of slots not to offer (e.g. the booking's own) */
    this.exclude = new Set();

    this.root.classList.add("slot-picker");
    this.note = h("p", { class: "tz-note", id: `${this.name}-tz` }, `Times are shown in ${zoneLabel(this.zone)}.`);
    this.dayGroup = h("fieldset", { class: "chip-group days" });
    this.timeGroup = h("fieldset", { class: "chip-group times", "aria-describedby": `${this.name}-tz` });
    this.empty = h("p", { class: "empty", hidden: true });
    this.more = h("button", { type: "button", class: "link-button", hidden: true }, "Show later dates");
    this.more.addEventListener("click", () => this.#loadMore());
    this.root.replaceChildren(this.note, this.dayGroup, this.timeGroup, this.empty, this.more);
  }

  /** The chosen slot, if any. */
  selected() {
    return this.slots.find((s) => key(s) === this.chosen) ?? null;
  }

  /** Loads the first window (and the next, if the first is empty). */
  async load() {
    this.slots = [];
    this.windows = 0;
    this.exhausted = false;
    await this.#loadWindows(this.from, 1);
    this.#pickDefaultDay();
    this.render();
  }

  /**
   * Reloads every window loaded so far (e.g. after "slot taken"), keeping
   * the chosen day when it still has free times. The chosen time is kept
   * only if it is still free.
   */
  async refresh() {
    const windows = Math.max(1, this.windows);
    this.slots = [];
    this.windows = 0;
    this.exhausted = false;
    await this.#loadWindows(this.from, windows);
    if (!this.selected()) this.chosen = null;
    if (!this.day || !this.#days().includes(this.day)) this.#pickDefaultDay();
    this.render();
  }

  /** @param {string} from @param {number} count */
  async #loadWindows(from, count) {
    this.root.setAttribute("aria-busy", "true");
    this.root.classList.add("is-loading");
    try {
      let start = addDays(from, this.windows * WINDOW_DAYS);
      for (let i = 0; i < count || (this.slots.length === 0 && this.windows < 2); i++) {
        if (this.windows >= MAX_WINDOWS) break;
        const end = addDays(start, WINDOW_DAYS - 1);
        const answer = await getAvailability(start, end);
        this.windows += 1;
        const fresh = answer.slots.filter((s) => !this.exclude.has(key(s)));
        this.slots.push(...fresh);
        if (answer.slots.length === 0 && this.slots.length > 0) {
          this.exhausted = true;
          break;
        }
        start = addDays(end, 1);
      }
      if (this.windows >= MAX_WINDOWS) this.exhausted = true;
    } finally {
      this.root.removeAttribute("aria-busy");
      this.root.classList.remove("is-loading");
    }
  }

  /** The next available day comes first, and is shown first. */
  #pickDefaultDay() {
    this.day = this.#days()[0] ?? null;
  }

  /** Clinic-local dates that have a free slot, in order. */
  #days() {
    return [...new Set(this.slots.map((s) => localDate(s.local_starts_at)))];
  }

  async #loadMore() {
    const before = this.#days().length;
    await this.#loadWindows(this.from, 1);
    this.render();
    const added = this.#days().length - before;
    this.onAnnounce(added > 0 ? `${added} more days with free times.` : "There are no later times available.");
    // Keep focus somewhere sensible: the first newly added day, or the button.
    const newDay = this.#days()[before];
    const radio = newDay && this.root.querySelector(`input[name="${this.name}-day"][value="${newDay}"]`);
    if (radio instanceof HTMLInputElement) radio.focus();
  }

  /** Redraws the day and time radios from `this.slots`. */
  render() {
    const days = this.#days();
    this.empty.hidden = days.length > 0;
    this.empty.textContent = days.length ? "" : "Sorry, there are no free times to book online at the moment. Please contact the clinic.";
    this.dayGroup.hidden = days.length === 0;
    this.timeGroup.hidden = days.length === 0;
    this.more.hidden = this.exhausted || days.length === 0;

    const dayChips = h("div", { class: "chips" });
    for (const date of days) {
      const count = this.slots.filter((s) => localDate(s.local_starts_at) === date).length;
      const id = `${this.name}-day-${date}`;
      const input = h("input", { type: "radio", name: `${this.name}-day`, id, value: date, checked: date === this.day });
      input.addEventListener("change", () => {
        this.day = date;
        if (this.chosen && localDate(this.selected()?.local_starts_at ?? "") !== date) {
          this.chosen = null;
          this.onChange(null);
        }
        this.#renderTimes();
      });
      dayChips.append(
        h(
          "label",
          { class: "chip", for: id },
          input,
          h("span", {}, shortDayLabel(date), h("span", { class: "visually-hidden" }, ` (${dayLabel(date)}), ${count} ${count === 1 ? "time" : "times"}`)),
        ),
      );
    }
    this.dayGroup.replaceChildren(h("legend", {}, "Choose a day"), dayChips);
    this.#renderTimes();
  }

  #renderTimes() {
    const date = this.day;
    const slots = date ? this.slots.filter((s) => localDate(s.local_starts_at) === date) : [];
    const several = new Set(slots.map((s) => s.practitioner_id)).size > 1;
    const chips = h("div", { class: "chips" });
    for (const slot of slots) {
      const value = key(slot);
      const id = `${this.name}-time-${value.replace(/[^0-9a-z]/gi, "")}`;
      const input = h("input", {
        type: "radio",
        name: `${this.name}-time`,
        id,
        value: slot.starts_at,
        "data-practitioner": slot.practitioner_id,
        checked: value === this.chosen,
      });
      input.addEventListener("change", () => {
        this.chosen = value;
        this.onChange(slot);
      });
      const who = several ? this.practitioners.get(slot.practitioner_id) : null;
      chips.append(
        h("label", { class: "chip", for: id }, input, h("span", {}, localTime(slot.local_starts_at), who ? ` with ${who}` : "")),
      );
    }
    this.timeGroup.replaceChildren(h("legend", {}, date ? `Choose a time on ${dayLabel(date)}` : "Choose a time"), chips);
  }
}

/** A slot's identity: its start and practitioner. */
function key(/** @type {AvailableSlot} */ s) {
  return `${s.starts_at}|${s.practitioner_id}`;
}
