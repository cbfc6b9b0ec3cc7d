// @ts-check
// The manage page: /manage#id=<consultation id>&token=<mt_…>.
//
// The manage token is read from the URL fragment, which the browser never
// sends to any server (and the page sends no Referer at all). It is used only
// as the Authorization header of the API calls below, never put in a query
// string, and never logged.

import {
  ApiError,
  cancelConsultation,
  getCalendar,
  getClinic,
  getConsultation,
  listPractitioners,
  newIdempotencyKey,
  rescheduleConsultation,
} from "./api.js";
import { instantIn, localDateTime, minutes, minutesBetween, money, zoneShort } from "./format.js";
import { SlotPicker } from "./slots.js";
import { HANDOFF_KEY, payDepositWithStripe } from "./stripe-deposit.js";
import {
  announce,
  applyBranding,
  byId,
  downloadText,
  errorMessage,
  focusHeading,
  h,
  showError,
  withBusy,
} from "./ui.js";

/** @typedef {import("./api.js").ClinicSettings} ClinicSettings */
/** @typedef {import("./api.js").Consultation} Consultation */
/** @typedef {import("./api.js").CancellationResult} CancellationResult */

/** @type {Record<Consultation["status"], string>} */
const STATUS = {
  pending_deposit: "Held: waiting for the deposit",
  confirmed: "Confirmed",
  attended: "Attended",
  no_show: "Missed",
  cancelled: "Cancelled",
  expired: "Ended: the time was released because the deposit was not paid in time",
};

/** @type {Record<Consultation["deposit"]["status"], string>} */
const DEPOSIT = {
  pending: "not paid yet",
  paid: "paid",
  redeemed: "used against a treatment",
  refunded: "refunded",
  forfeited: "kept by the clinic under the cancellation policy",
  cancelled: "not taken: the booking ended before it was paid",
};

const state = {
  id: "",
  token: "",
  /** @type {ClinicSettings | null} */
  clinic: null,
  /** @type {Consultation | null} */
  consultation: null,
  /** @type {Map<string, string>} */
  practitioners: new Map(),
  /** @type {SlotPicker | null} */
  picker: null,
  /** Idempotency keys, reused when the same action is retried. */
  cancelKey: "",
  /** @type {{key: string, body: string} | null} */
  moveAttempt: null,
  stripeStarted: false,
};

const el = {
  error: byId("manage-error"),
  message: byId("manage-message"),
  view: byId("booking-view"),
  actions: byId("actions"),
  reschedulePanel: byId("reschedule-panel"),
  cancelPanel: byId("cancel-panel"),
};

/**
 * The booking's id and token: from the fragment, or (once, after a Stripe
 * redirect) from this tab's sessionStorage, see stripe-deposit.js.
 * @returns {{id: string, token: string} | null}
 */
function readCredentials() {
  const params = new URLSearchParams(location.hash.slice(1));
  const id = params.get("id");
  const token = params.get("token");
  if (id && token) return { id, token };
  const handoff = sessionStorage.getItem(HANDOFF_KEY);
  if (handoff) {
    sessionStorage.removeItem(HANDOFF_KEY);
    try {
      const saved = JSON.parse(handoff);
      if (typeof saved.id === "string" && typeof saved.token === "string") {
        // Put the link back together (fragment only) so that a reload still works.
        history.replaceState(null, "", `/manage#id=${encodeURIComponent(saved.id)}&token=${encodeURIComponent(saved.token)}`);
        return saved;
      }
    } catch {
      // fall through: an unusable hand-off is ignored
    }
  }
  return null;
}

async function main() {
  const clinicP = getClinic();
  const practitionersP = listPractitioners().catch(() => null);
  const credentials = readCredentials();

  try {
    state.clinic = await clinicP;
    applyBranding(state.clinic);
  } catch {
    // The booking can still be shown without the clinic's branding and zone name.
  }
  if (!credentials) {
    stopLoading();
    byId("booking-details").replaceChildren();
    showError(
      el.error,
      "Please open the full link you were given when you booked. It ends with a long code that identifies your booking.",
      "This link is not complete.",
    );
    return;
  }
  state.id = credentials.id;
  state.token = credentials.token;

  for (const p of (await practitionersP)?.items ?? []) state.practitioners.set(p.id, p.name);

  try {
    render(await getConsultation(state.id, state.token));
  } catch (err) {
    stopLoading();
    byId("booking-details").replaceChildren();
    showError(
      el.error,
      err instanceof ApiError ? errorMessage(err) : "Your booking could not be loaded.",
      err instanceof ApiError && (err.status === 401 || err.status === 404)
        ? "We could not find a booking for this link. Please check that you opened the whole link."
        : "Your booking could not be loaded.",
    );
  }
}

function stopLoading() {
  el.view.removeAttribute("aria-busy");
  el.view.classList.remove("is-loading");
}

function zone() {
  return state.clinic?.timezone ?? state.consultation?.time_zone ?? "Europe/London";
}

/** Draws the booking and which actions it allows. */
function render(/** @type {Consultation} */ c) {
  state.consultation = c;
  stopLoading();
  const z = zone();
  const who = state.practitioners.get(c.practitioner_id);
  const active = c.status === "pending_deposit" || c.status === "confirmed";
  const deadlinePassed = Date.parse(c.cancellation_deadline) <= Date.now();

  /** @type {[string, string][]} */
  const rows = [
    ["When", `${localDateTime(c.local_starts_at)} (${zoneShort(z)})`],
    ["Length", minutes(minutesBetween(c.starts_at, c.ends_at))],
  ];
  if (who) rows.push(["With", who]);
  rows.push(["Status", STATUS[c.status] ?? c.status]);
  rows.push(["Deposit", `${money(c.deposit.amount)}, ${DEPOSIT[c.deposit.status] ?? c.deposit.status}`]);
  if (active) {
    rows.push([
      "Cancel or move by",
      deadlinePassed
        ? "The deadline has passed"
        : `${instantIn(c.cancellation_deadline, z, { withDate: true })} (${zoneShort(z)}) to keep your deposit`,
    ]);
  }
  rows.push(["Name", c.client.full_name], ["Booking reference", c.id]);
  byId("booking-details").replaceChildren(...rows.map(([k, v]) => h("div", {}, h("dt", {}, k), h("dd", {}, v))));

  const info = byId("deposit-info");
  info.replaceChildren();
  if (c.status === "pending_deposit" && c.deposit.status === "pending") {
    const until = c.hold_expires_at ? ` until ${instantIn(c.hold_expires_at, z)} (${zoneShort(z)})` : "";
    info.append(h("p", { class: "hold" }, h("strong", {}, `Your time is held${until} while the deposit is taken.`)));
    if (c.deposit.provider !== "stripe" && state.clinic?.payment.manual_instructions) {
      info.append(h("p", {}, state.clinic.payment.manual_instructions));
    }
  }

  el.actions.hidden = !active;
  const notice = state.clinic?.cancellation_notice_hours ?? 0;
  const moveClosed = byId("move-closed");
  moveClosed.hidden = !(active && deadlinePassed);
  moveClosed.textContent = `Your consultation is ${notice ? `less than ${notice} hours` : "too close"} away, so it can no longer be moved online. Please contact the clinic if you need to change it.`;
  byId("reschedule-button").hidden = deadlinePassed;

  // A Stripe deposit not yet paid (e.g. the payment was interrupted): offer to pay it here.
  const payPanel = byId("pay-panel");
  payPanel.hidden = !(c.status === "pending_deposit" && c.deposit.provider === "stripe" && c.deposit.client_secret);
  if (!payPanel.hidden && !state.stripeStarted) {
    state.stripeStarted = true;
    void startStripe(c);
  }
}

// --- calendar ---------------------------------------------------------------

const calendarButton = byId("calendar-button", HTMLButtonElement);
calendarButton.addEventListener("click", () =>
  withBusy(calendarButton, "Preparing the file…", async () => {
    try {
      downloadText(await getCalendar(state.id, state.token), "consultation.ics", "text/calendar");
      showError(el.error, null);
      announce("The calendar file is downloading.");
    } catch (err) {
      showError(el.error, err instanceof ApiError ? errorMessage(err) : "The calendar file could not be made.");
    }
  }),
);

// --- panels -----------------------------------------------------------------

/** Opens one panel (or none) and focuses its heading. */
function openPanel(/** @type {HTMLElement | null} */ panel) {
  for (const p of [el.reschedulePanel, el.cancelPanel]) p.hidden = p !== panel;
  showError(el.error, null);
  el.message.hidden = true;
  if (panel) {
    const heading = panel.querySelector("h2");
    if (heading) focusHeading(heading);
  }
}

for (const button of document.querySelectorAll("[data-close]")) {
  button.addEventListener("click", () => {
    openPanel(null);
    byId("actions-title").setAttribute("tabindex", "-1");
    focusHeading(byId("actions-title"));
  });
}

// --- cancel: preview first, then confirm --------------------------------------

const cancelButton = byId("cancel-button", HTMLButtonElement);
cancelButton.addEventListener("click", () =>
  withBusy(cancelButton, "Checking…", async () => {
    showError(byId("cancel-error"), null);
    try {
      const preview = await cancelConsultation(state.id, state.token, { dry_run: true });
      byId("cancel-preview").replaceChildren(...describeCancellation(preview, false));
      state.cancelKey = newIdempotencyKey();
      openPanel(el.cancelPanel);
    } catch (err) {
      showError(el.error, err instanceof ApiError ? errorMessage(err) : String(err));
    }
  }),
);

const cancelConfirm = byId("cancel-confirm", HTMLButtonElement);
cancelConfirm.addEventListener("click", () =>
  withBusy(cancelConfirm, "Cancelling…", async () => {
    try {
      // The same key on a retry of this confirmation: cancelling twice is impossible anyway,
      // but the replay gives the first answer back.
      const result = await cancelConsultation(state.id, state.token, {}, state.cancelKey || newIdempotencyKey());
      openPanel(null);
      render(result.consultation);
      el.message.replaceChildren(h("p", {}, h("strong", {}, "Your consultation is cancelled.")), ...describeCancellation(result, true));
      el.message.hidden = false;
      focusHeading(byId("manage-title"));
      announce("Your consultation is cancelled.");
    } catch (err) {
      showError(byId("cancel-error"), err instanceof ApiError ? errorMessage(err) : String(err));
    }
  }),
);

/**
 * What a cancellation does (or did) to the deposit, in words.
 * @param {CancellationResult} r
 * @param {boolean} done past tense
 * @returns {HTMLElement[]}
 */
function describeCancellation(r, done) {
  const c = r.consultation;
  const amount = money(c.deposit.amount);
  const hours = state.clinic?.cancellation_notice_hours;
  const z = zone();
  const when = h("p", {}, `Consultation: ${localDateTime(c.local_starts_at)} (${zoneShort(z)}).`);
  /** @type {HTMLElement[]} */
  const out = done ? [] : [when];
  switch (r.deposit_action) {
    case "refund": {
      const refund = r.refund ? money(r.refund) : amount;
      out.push(h("p", { class: "outcome" }, done ? `Your ${refund} deposit is being refunded.` : `Your ${refund} deposit will be refunded.`));
      if (r.refund_pending) out.push(h("p", {}, "The refund is on its way; it can take a few days to reach your account."));
      break;
    }
    case "forfeit":
      out.push(
        h(
          "p",
          { class: "outcome" },
          `${done ? "The clinic has kept" : "The clinic will keep"} your ${r.forfeit ? money(r.forfeit) : amount} deposit, because ` +
            `${hours ? `it is less than ${hours} hours` : "it is too close"} to the start of your consultation.`,
        ),
      );
      break;
    case "release":
      out.push(
        h("p", { class: "outcome" }, `You have not paid the deposit yet, so there is nothing to refund or to pay: your time ${done ? "has been" : "will simply be"} released.`),
      );
      break;
    default:
      out.push(h("p", { class: "outcome" }, "There is no deposit to refund or keep."));
  }
  if (!done) {
    out.push(
      h(
        "p",
        { class: r.late ? "late" : "" },
        r.late
          ? `This is a late cancellation: the deadline to cancel and keep the deposit was ${instantIn(r.cancellation_deadline, z, { withDate: true })} (${zoneShort(z)}).`
          : `This is before the deadline of ${instantIn(r.cancellation_deadline, z, { withDate: true })} (${zoneShort(z)}).`,
      ),
    );
  }
  return out;
}

// --- move to another time -----------------------------------------------------

const rescheduleButton = byId("reschedule-button", HTMLButtonElement);
rescheduleButton.addEventListener("click", async () => {
  const c = state.consultation;
  if (!c) return;
  if (!state.picker) {
    state.picker = new SlotPicker({
      root: byId("reschedule-picker"),
      zone: zone(),
      name: "move",
      practitioners: state.practitioners,
      onChange: () => showError(byId("reschedule-slot-error"), null),
      onAnnounce: announce,
    });
  }
  state.picker.exclude = new Set([`${c.starts_at}|${c.practitioner_id}`]);
  openPanel(el.reschedulePanel);
  try {
    await state.picker.load();
  } catch (err) {
    showError(byId("reschedule-error"), err instanceof ApiError ? errorMessage(err) : "The free times could not be loaded.");
  }
});

byId("reschedule-form", HTMLFormElement).addEventListener("submit", async (event) => {
  event.preventDefault();
  const slot = state.picker?.selected();
  const slotError = byId("reschedule-slot-error");
  const errorBox = byId("reschedule-error");
  showError(errorBox, null);
  if (!slot) {
    slotError.textContent = "Choose a day and a new time.";
    slotError.hidden = false;
    return;
  }
  showError(slotError, null);
  const body = { starts_at: slot.starts_at, practitioner_id: slot.practitioner_id };
  const text = JSON.stringify(body);
  if (!state.moveAttempt || state.moveAttempt.body !== text) state.moveAttempt = { key: newIdempotencyKey(), body: text };
  const button = byId("reschedule-confirm", HTMLButtonElement);
  await withBusy(button, "Moving…", async () => {
    try {
      const moved = await rescheduleConsultation(state.id, state.token, body, state.moveAttempt?.key ?? newIdempotencyKey());
      state.moveAttempt = null;
      openPanel(null);
      render(moved);
      el.message.replaceChildren(
        h("p", {}, h("strong", {}, `Your consultation has moved to ${localDateTime(moved.local_starts_at)} (${zoneShort(zone())}).`)),
        h("p", {}, "If you added it to your calendar, download the calendar file again."),
      );
      el.message.hidden = false;
      focusHeading(byId("manage-title"));
      announce("Your consultation has been moved.");
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      // The two slot codes in the page's own words; anything else as the API words it.
      showError(
        errorBox,
        err.code === "slot_unavailable"
          ? "Sorry, someone else has just booked that time. The free times have been updated: please choose another."
          : err.code === "slot_not_offered"
            ? "Sorry, that time can no longer be booked online. The free times have been updated: please choose another."
            : errorMessage(err),
      );
      if (err.code === "slot_unavailable" || err.code === "slot_not_offered") await state.picker?.refresh().catch(() => {});
    }
  });
});

// --- Stripe (only when the clinic takes deposits online) ----------------------

async function startStripe(/** @type {Consultation} */ c) {
  const key = c.deposit.publishable_key ?? state.clinic?.payment.stripe_publishable_key;
  if (!key || !c.deposit.client_secret) return;
  await payDepositWithStripe({
    form: byId("stripe-form", HTMLFormElement),
    mountPoint: byId("stripe-element"),
    button: byId("stripe-pay", HTMLButtonElement),
    errorBox: byId("stripe-error"),
    publishableKey: key,
    clientSecret: c.deposit.client_secret,
    consultationId: c.id,
    manageToken: state.token,
    onStatus: announce,
    onConfirmed: async () => {
      render(await getConsultation(state.id, state.token));
      announce("Your deposit is paid and your consultation is confirmed.");
    },
  });
}

void main();
