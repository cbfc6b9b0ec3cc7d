// @ts-check
// The public booking page (/ and /embed).
//
// The flow picks the slot FIRST and screens SECOND: the API judges age on the
// screening's `appointment_date`, and the booking judges it again on the
// slot's date, so screening with the chosen slot's clinic-local date is the
// one order where the screening's answer is the booking's answer. When the
// slot changes to another day (the user goes back, or the slot was taken),
// the page screens again with the answers it holds, for the new date.
//
// Health answers and the date of birth live only in this module's memory
// (never the URL, storage or logs) and are dropped once the booking is made.

import {
  ApiError,
  createConsultation,
  createScreening,
  getCalendar,
  getClinic,
  listPractitioners,
  listTreatments,
  newIdempotencyKey,
} from "./api.js";
import { renderTreatments, setUpFaq } from "./catalogue.js";
import {
  birthDate,
  composeDate,
  instantIn,
  localDate,
  localDateTime,
  minutes,
  minutesBetween,
  money,
  todayIn,
  zoneShort,
} from "./format.js";
import { SlotPicker } from "./slots.js";
import {
  announce,
  applyBranding,
  byId,
  clearFieldErrors,
  downloadText,
  errorMessage,
  focusHeading,
  h,
  isEmbedded,
  showError,
  showFieldErrors,
  withBusy,
} from "./ui.js";

/** @typedef {import("./api.js").ClinicSettings} ClinicSettings */
/** @typedef {import("./api.js").AvailableSlot} AvailableSlot */
/** @typedef {import("./api.js").ScreeningRequest} ScreeningRequest */
/** @typedef {import("./api.js").ScreeningResult} ScreeningResult */
/** @typedef {import("./api.js").BookingRequest} BookingRequest */
/** @typedef {import("./api.js").BookingCreated} BookingCreated */
/** @typedef {Omit<ScreeningRequest, "appointment_date">} Answers */
/** @typedef {"slot" | "health" | "ineligible" | "details" | "done"} Step */

const HEALTH_QUESTIONS = /** @type {const} */ ([
  "pregnant",
  "breastfeeding",
  "autoimmune_condition",
  "active_infection_at_site",
  "other_medical_conditions",
]);

/** Everything the page knows, in memory only. */
const state = {
  /** @type {ClinicSettings | null} */
  clinic: null,
  /** @type {string | null} the treatment to book for, when the clinic has exactly one */
  treatmentId: null,
  /** @type {Map<string, string>} practitioner id → name */
  practitioners: new Map(),
  /** @type {SlotPicker | null} */
  picker: null,
  /** @type {AvailableSlot | null} the slot being booked */
  slot: null,
  /** @type {Answers | null} health answers and date of birth (memory only) */
  answers: null,
  /** @type {{date: string, result: ScreeningResult} | null} the screening for `answers` on `date` */
  screening: null,
  /** @type {{key: string, body: string} | null} the last booking request, to retry it with its key */
  attempt: null,
};

const el = {
  bookingError: byId("booking-error"),
  slotNotice: byId("slot-notice"),
  slotForm: byId("slot-form", HTMLFormElement),
  slotError: byId("slot-error"),
  healthForm: byId("health-form", HTMLFormElement),
  detailsForm: byId("details-form", HTMLFormElement),
  detailsError: byId("details-error"),
  bookButton: byId("book-button", HTMLButtonElement),
  doneError: byId("done-error"),
};

// --- steps -------------------------------------------------------------------

/**
 * Shows one step and moves focus to its heading.
 * @param {Step} step
 * @param {{focus?: boolean}} [opts]
 */
function show(step, opts = {}) {
  for (const section of document.querySelectorAll("#booking .step")) {
    if (section instanceof HTMLElement) section.hidden = section.id !== `step-${step}`;
  }
  const progress = step === "ineligible" ? "health" : step;
  for (const li of document.querySelectorAll(".progress li")) {
    if (li instanceof HTMLElement && li.dataset.step === progress) li.setAttribute("aria-current", "step");
    else li.removeAttribute("aria-current");
  }
  showError(el.bookingError, null);
  if (opts.focus !== false) {
    const heading = document.querySelector(`#step-${step} h3`);
    if (heading instanceof HTMLElement) focusHeading(heading);
  }
}

for (const button of document.querySelectorAll("[data-go]")) {
  button.addEventListener("click", () => {
    const to = /** @type {HTMLElement} */ (button).dataset.go;
    if (to === "slot" || to === "health") show(to);
  });
}

// --- start -------------------------------------------------------------------

async function main() {
  if (isEmbedded()) document.documentElement.classList.add("embed");

  // All four requests start at once; each part of the page fills in when its answer comes.
  const clinicP = getClinic();
  const treatmentsP = listTreatments();
  const practitionersP = listPractitioners().catch(() => null);
  void setUpFaq(byId("faq"));

  treatmentsP.then(
    (list) => {
      renderTreatments(byId("treatment"), list.items);
      if (list.items.length === 1) state.treatmentId = list.items[0]?.id ?? null;
    },
    (err) => {
      const section = byId("treatment");
      section.removeAttribute("aria-busy");
      section.classList.remove("is-loading");
      section.querySelector(".treatment-body")?.replaceChildren(
        h("p", { class: "inline-error" }, err instanceof ApiError ? errorMessage(err) : "The treatment details could not be loaded."),
      );
    },
  );

  let clinic;
  try {
    clinic = await clinicP;
  } catch (err) {
    showError(el.bookingError, err instanceof ApiError ? errorMessage(err) : "The booking system could not be reached.", "Online booking is not available just now.");
    byId("slot-picker").replaceChildren();
    return;
  }
  state.clinic = clinic;
  applyBranding(clinic);
  describePolicy(clinic);

  const practitioners = await practitionersP;
  for (const p of practitioners?.items ?? []) state.practitioners.set(p.id, p.name);

  state.picker = new SlotPicker({
    root: byId("slot-picker"),
    zone: clinic.timezone,
    name: "slot",
    practitioners: state.practitioners,
    onChange: () => showError(el.slotError, null),
    onAnnounce: announce,
  });
  try {
    await state.picker.load();
  } catch (err) {
    showError(el.bookingError, err instanceof ApiError ? errorMessage(err) : "The free times could not be loaded.", "We could not load the free times.");
  }
}

/** The cancellation policy and deposit texts, from /v1/clinic. */
function describePolicy(/** @type {ClinicSettings} */ clinic) {
  const deposit = money(clinic.deposit);
  const notice = `${clinic.cancellation_notice_hours} hours`;
  for (const span of document.querySelectorAll("[data-minimum-age]")) span.textContent = String(clinic.minimum_age);
  byId("policy-text").replaceChildren(
    h("p", {}, `You can cancel or move your consultation up to ${notice} before it starts. If you have paid the ${deposit} deposit, it is then refunded in full.`),
    h("p", {}, `If you cancel later than ${notice} before, or do not come to your consultation, the clinic keeps the deposit.`),
    h("p", {}, "If you cancel before the deposit has been paid, your time is simply released and there is nothing to pay."),
    h("p", {}, "The deposit is not an extra fee: once paid, it is taken off the cost of any treatment you have."),
    h("p", { id: "policy-deadline" }),
  );
  const hold = minutes(clinic.hold_minutes);
  byId("deposit-text").replaceChildren(
    clinic.payment.provider === "stripe"
      ? h("p", {}, `A ${deposit} deposit secures your consultation. You pay it by card on the next step; your time is held for ${hold} while you do.`)
      : h("p", {}, `A ${deposit} deposit secures your consultation. After you book, your time is held for ${hold} while the deposit is taken. ${clinic.payment.manual_instructions ?? ""}`),
  );
}

/** "Your time: Thursday 3 December 2026 at 10:00 (UK time), 30 minutes, with Nurse Julie." */
function describeSlot(/** @type {AvailableSlot} */ slot) {
  const zone = state.clinic?.timezone ?? "";
  const who = state.practitioners.get(slot.practitioner_id);
  const text = `${localDateTime(slot.local_starts_at)} (${zoneShort(zone)}), ${minutes(minutesBetween(slot.starts_at, slot.ends_at))}${who ? `, with ${who}` : ""}.`;
  for (const p of document.querySelectorAll("[data-chosen-slot]")) {
    p.replaceChildren(h("strong", {}, "Your time: "), text);
  }
  const deadline = document.getElementById("policy-deadline");
  if (deadline && state.clinic) {
    const by = new Date(Date.parse(slot.starts_at) - state.clinic.cancellation_notice_hours * 3_600_000);
    deadline.textContent = by.getTime() > Date.now()
      ? `For the time you have chosen, that means cancelling or moving it by ${instantIn(by, zone, { withDate: true })} (${zoneShort(zone)}).`
      : `The time you have chosen is less than ${state.clinic.cancellation_notice_hours} hours away, so once the deposit is paid it cannot be refunded if you cancel.`;
  }
}

// --- 1. time -----------------------------------------------------------------

el.slotForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const slot = state.picker?.selected() ?? null;
  if (!slot) {
    el.slotError.textContent = "Choose a day and a time.";
    el.slotError.hidden = false;
    const first = el.slotForm.querySelector("input[name=slot-time]") ?? el.slotForm.querySelector("input[name=slot-day]");
    if (first instanceof HTMLElement) first.focus();
    return;
  }
  showError(el.slotError, null);
  el.slotNotice.hidden = true;
  state.slot = slot;
  describeSlot(slot);
  if (!state.answers) {
    show("health");
    return;
  }
  // The answers are known (the time was changed): screen again for the new date if needed.
  const button = /** @type {HTMLButtonElement} */ (el.slotForm.querySelector("button[type=submit]"));
  try {
    const result = await withBusy(button, "Checking…", screenForSlot);
    afterScreening(result);
  } catch (err) {
    showError(el.bookingError, err instanceof ApiError ? errorMessage(err) : String(err));
  }
});

// --- 2. health questions -----------------------------------------------------

el.healthForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearFieldErrors(el.healthForm);
  showError(el.bookingError, null);
  const form = new FormData(el.healthForm);
  /** @type {{field: string, message: string}[]} */
  const errors = [];

  const dob = composeDate(
    String(form.get("dob-day") ?? "").trim(),
    String(form.get("dob-month") ?? "").trim(),
    String(form.get("dob-year") ?? "").trim(),
  );
  if (!dob) errors.push({ field: "date_of_birth", message: "enter your date of birth as numbers: day, month and year, for example 27 3 1990" });
  else if (state.clinic && dob >= todayIn(state.clinic.timezone)) errors.push({ field: "date_of_birth", message: "your date of birth must be in the past" });

  /** @type {Partial<Record<typeof HEALTH_QUESTIONS[number], boolean>>} */
  const yesNo = {};
  for (const q of HEALTH_QUESTIONS) {
    const v = form.get(q);
    if (v === "yes" || v === "no") yesNo[q] = v === "yes";
    else errors.push({ field: q, message: "choose yes or no" });
  }
  if (errors.length || !dob) {
    showFieldErrors(el.healthForm, errors);
    announce(`Please check your answers: ${errors.length} ${errors.length === 1 ? "question needs" : "questions need"} an answer.`);
    return;
  }
  state.answers = {
    date_of_birth: dob,
    pregnant: yesNo.pregnant ?? false,
    breastfeeding: yesNo.breastfeeding ?? false,
    autoimmune_condition: yesNo.autoimmune_condition ?? false,
    active_infection_at_site: yesNo.active_infection_at_site ?? false,
    other_medical_conditions: yesNo.other_medical_conditions ?? false,
  };
  state.screening = null; // new answers: a new screening

  const button = /** @type {HTMLButtonElement} */ (el.healthForm.querySelector("button[type=submit]"));
  try {
    const result = await withBusy(button, "Checking…", screenForSlot);
    afterScreening(result);
  } catch (err) {
    if (err instanceof ApiError && err.problem.errors?.length) {
      const rest = showFieldErrors(el.healthForm, err.problem.errors);
      if (rest.length) showError(el.bookingError, rest.join(" "));
      announce(err.problem.detail);
    } else {
      showError(el.bookingError, err instanceof ApiError ? errorMessage(err) : String(err));
    }
  }
});

/**
 * The screening of the held answers for the chosen slot's clinic-local date:
 * the one already made when it is for that date, else a new one.
 * @returns {Promise<ScreeningResult>}
 */
async function screenForSlot() {
  if (!state.answers || !state.slot) throw new Error("no answers or no slot");
  const date = localDate(state.slot.local_starts_at);
  if (state.screening?.date === date && state.screening.result.screening_token) return state.screening.result;
  const result = await createScreening({ ...state.answers, appointment_date: date });
  state.screening = { date, result };
  return result;
}

/** Goes on from a screening: to the details, or to the kind refusal. */
function afterScreening(/** @type {ScreeningResult} */ result) {
  if (result.outcome === "ineligible" || !result.screening_token) {
    showIneligible(result.reasons.map((r) => r.message), result.reasons.some((r) => r.code === "under_minimum_age"));
    return;
  }
  byId("review-notice").hidden = result.outcome !== "needs_review";
  byId("dob-shown").textContent = state.answers ? birthDate(state.answers.date_of_birth) : "";
  show("details");
}

/**
 * @param {string[]} reasons the API's own plain-language messages
 * @param {boolean} age whether age is one of them
 */
function showIneligible(reasons, age) {
  byId("ineligible-reasons").replaceChildren(...reasons.map((r) => h("li", {}, r)));
  byId("ineligible-age-hint").hidden = !age;
  show("ineligible");
  announce("We cannot book this consultation for you. The reasons are listed.");
}

// --- 3. details and booking --------------------------------------------------

el.detailsForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearFieldErrors(el.detailsForm);
  showError(el.detailsError, null);
  const form = new FormData(el.detailsForm);
  const client = {
    full_name: String(form.get("full_name") ?? "").trim(),
    email: String(form.get("email") ?? "").trim(),
    phone: String(form.get("phone") ?? "").trim(),
  };
  /** @type {{field: string, message: string}[]} */
  const errors = [];
  if (!client.full_name) errors.push({ field: "client.full_name", message: "enter your full name" });
  if (!/^[^\s@]+@[^\s@]+$/.test(client.email)) errors.push({ field: "client.email", message: "enter an email address, like name@example.com" });
  if (!/^\+?[0-9][0-9 ()-]{5,29}[0-9]$/.test(client.phone)) errors.push({ field: "client.phone", message: "enter a phone number, like 07700 900123 or +44 7700 900123" });
  if (form.get("accept_cancellation_policy") !== "on") errors.push({ field: "accept_cancellation_policy", message: "please read and accept the cancellation policy to book" });
  if (errors.length) {
    showFieldErrors(el.detailsForm, errors);
    announce(`Please check the form: ${errors.length} ${errors.length === 1 ? "thing needs" : "things need"} fixing.`);
    return;
  }
  await withBusy(el.bookButton, "Booking…", () => book(client, false));
});

/**
 * Books the held slot. A retry of the same request (same body) reuses its
 * Idempotency-Key, so pressing Book again after a lost answer can never book
 * twice; any change (another slot, a new screening) is a new key.
 *
 * @param {{full_name: string, email: string, phone: string}} client
 * @param {boolean} retried whether this is the automatic retry after a stale screening
 * @returns {Promise<void>}
 */
async function book(client, retried) {
  if (!state.slot || !state.answers) return;
  let screening;
  try {
    screening = await screenForSlot();
  } catch (err) {
    showError(el.detailsError, err instanceof ApiError ? errorMessage(err) : String(err));
    return;
  }
  if (screening.outcome === "ineligible" || !screening.screening_token) {
    afterScreening(screening);
    return;
  }
  /** @type {BookingRequest} */
  const body = {
    client: { ...client, date_of_birth: state.answers.date_of_birth },
    screening_token: screening.screening_token,
    practitioner_id: state.slot.practitioner_id,
    starts_at: state.slot.starts_at,
    accept_cancellation_policy: true,
    ...(state.treatmentId ? { treatment_id: state.treatmentId } : {}),
  };
  const text = JSON.stringify(body);
  if (!state.attempt || state.attempt.body !== text) state.attempt = { key: newIdempotencyKey(), body: text };

  let booking;
  try {
    booking = await createConsultation(body, state.attempt.key);
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    await bookingFailed(err, client, retried);
    return;
  }
  // Booked: forget the health answers, the date of birth and the screening.
  state.attempt = null;
  state.answers = null;
  state.screening = null;
  el.healthForm.reset();
  showDone(booking);
}

/**
 * @param {ApiError} err
 * @param {{full_name: string, email: string, phone: string}} client
 * @param {boolean} retried
 */
async function bookingFailed(err, client, retried) {
  switch (err.code) {
    case "slot_unavailable":
    case "slot_not_offered": {
      // Someone else took the time (or it is no longer offered): say so in
      // the page's own words (the codes are stable, the API's detail is
      // written for any client), show fresh times, keep what the user typed.
      showError(
        el.slotNotice,
        err.code === "slot_unavailable"
          ? "Sorry, someone else has just booked that time. Please choose another one; your answers and details are kept."
          : "Sorry, that time can no longer be booked online. Please choose another one; your answers and details are kept.",
      );
      state.slot = null;
      show("slot"); // the notice (role=alert) is read out
      try {
        await state.picker?.refresh();
        announce("The free times have been updated.");
      } catch (e) {
        showError(el.bookingError, e instanceof ApiError ? errorMessage(e) : "The free times could not be loaded.");
      }
      return;
    }
    case "screening_used":
    case "screening_expired":
      // The screening can no longer be used (it expired while the page was
      // open): screen the same answers again and try once more.
      state.screening = null;
      if (!retried) return book(client, true);
      break;
    case "ineligible":
      state.screening = null;
      showIneligible([err.problem.detail], /age|old/i.test(err.problem.detail));
      return;
    case "validation_failed": {
      const rest = showFieldErrors(el.detailsForm, err.problem.errors ?? []);
      showError(el.detailsError, rest.length ? rest.join(" ") : err.problem.detail, "Please check the form.");
      return;
    }
    default:
      break;
  }
  showError(
    el.detailsError,
    errorMessage(err),
    err.retryable ? "Your booking did not go through. Press “Book and hold my time” to try again: you will not be booked twice." : undefined,
  );
}

// --- 4. deposit and confirmation --------------------------------------------

/** @param {BookingCreated} booking */
function showDone(booking) {
  const clinic = /** @type {ClinicSettings} */ (state.clinic);
  const zone = clinic.timezone;
  const who = state.practitioners.get(booking.practitioner_id);

  /** @type {[string, string][]} */
  const rows = [
    ["When", `${localDateTime(booking.local_starts_at)} (${zoneShort(zone)})`],
    ["Length", minutes(minutesBetween(booking.starts_at, booking.ends_at))],
  ];
  if (who) rows.push(["With", who]);
  rows.push(["Name", booking.client.full_name], ["Booking reference", booking.id]);
  byId("done-summary").replaceChildren(...rows.map(([k, v]) => h("div", {}, h("dt", {}, k), h("dd", {}, v))));

  const manageUrl = `/manage#id=${encodeURIComponent(booking.id)}&token=${encodeURIComponent(booking.manage_token)}`;
  const link = byId("manage-link", HTMLAnchorElement);
  link.href = manageUrl;
  if (isEmbedded()) {
    // Inside a frame on the clinic's site: open the manage page in its own tab.
    link.target = "_blank";
    link.rel = "noopener noreferrer";
  }

  const calendar = byId("calendar-button", HTMLButtonElement);
  calendar.onclick = () =>
    withBusy(calendar, "Preparing the file…", async () => {
      try {
        const ics = await getCalendar(booking.id, booking.manage_token);
        downloadText(ics, "consultation.ics", "text/calendar");
        showError(el.doneError, null);
        announce("The calendar file is downloading.");
      } catch (err) {
        showError(el.doneError, err instanceof ApiError ? errorMessage(err) : "The calendar file could not be made.");
      }
    });

  const deposit = money(booking.deposit.amount);
  const heldUntil = booking.hold_expires_at ? `${instantIn(booking.hold_expires_at, zone)} (${zoneShort(zone)})` : null;
  const pay = byId("pay-text");
  const title = byId("done-title");

  if (booking.deposit.provider === "stripe" && booking.deposit.client_secret) {
    title.textContent = "Pay your deposit to confirm";
    pay.replaceChildren(
      h("p", {}, `Your time is held${heldUntil ? ` until ${heldUntil}` : ""}. Pay the ${deposit} deposit by card to confirm your booking.`),
    );
    show("done");
    void startStripe(booking);
    return;
  }
  title.textContent = booking.status === "confirmed" ? "Your consultation is confirmed" : "Your consultation is booked";
  pay.replaceChildren(
    booking.deposit.status === "pending"
      ? h("p", { class: "hold" }, h("strong", {}, `Your time is held${heldUntil ? ` until ${heldUntil}` : ""} while the ${deposit} deposit is taken.`))
      : h("p", {}, `Deposit: ${deposit}, ${booking.deposit.status}.`),
    clinic.payment.manual_instructions ? h("p", {}, clinic.payment.manual_instructions) : "",
    h("p", {}, "The deposit is credit: it is taken off the cost of any treatment you have."),
  );
  show("done");
  announce("Your consultation is booked.");
}

/** The Stripe path: loaded only when the clinic takes deposits with Stripe. */
async function startStripe(/** @type {BookingCreated} */ booking) {
  const clinic = /** @type {ClinicSettings} */ (state.clinic);
  const key = booking.deposit.publishable_key ?? clinic.payment.stripe_publishable_key;
  const errorBox = byId("stripe-error");
  if (!key || !booking.deposit.client_secret) {
    showError(errorBox, "Card payments are not set up correctly. Please contact the clinic to pay your deposit.");
    return;
  }
  const { payDepositWithStripe } = await import("./stripe-deposit.js");
  await payDepositWithStripe({
    form: byId("stripe-form", HTMLFormElement),
    mountPoint: byId("stripe-element"),
    button: byId("stripe-pay", HTMLButtonElement),
    errorBox,
    publishableKey: key,
    clientSecret: booking.deposit.client_secret,
    consultationId: booking.id,
    manageToken: booking.manage_token,
    onStatus: announce,
    onConfirmed: () => {
      byId("done-title").textContent = "Your consultation is confirmed";
      byId("pay-text").replaceChildren(h("p", {}, `Thank you: your ${money(booking.deposit.amount)} deposit is paid and your consultation is confirmed.`));
      announce("Your deposit is paid and your consultation is confirmed.");
    },
  });
}

void main();
