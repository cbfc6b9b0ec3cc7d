// @ts-check
// Paying the deposit with Stripe's Payment Element.
//
// Used only when GET /v1/clinic says payment.provider == "stripe" and the
// booking answer carries deposit.client_secret. It cannot run in CI (no
// network to Stripe there), so it is kept small and on its own, and it talks
// to clinic-api only through the same calls the tests use (api.js):
//
//   1. load https://js.stripe.com/v3/ (the page's CSP allows it: script-src
//      and frame-src js.stripe.com, frame-src hooks.stripe.com for 3-D Secure,
//      connect-src api.stripe.com);
//   2. Stripe(publishable key) → elements({clientSecret}) → create("payment")
//      → mount into the page;
//   3. on submit, stripe.confirmPayment({redirect: "if_required"}): cards and
//      wallets confirm in place (3-D Secure in Stripe's own frame);
//   4. the server learns of the payment from Stripe's webhook (or by asking
//      Stripe when the booking is read), so poll GET /v1/consultations/{id}
//      with the manage token until its status is "confirmed", for about a
//      minute, then say plainly that it is taking long.
//
// Payment methods that must leave the page come back to return_url, which is
// the manage page WITHOUT the token (the token must never reach Stripe). The
// token crosses that redirect in sessionStorage, for this tab only, and the
// manage page takes it out again at once (see takeStripeHandoff in manage.js).

import { ApiError, getConsultation } from "./api.js";
import { errorMessage, showError, withBusy } from "./ui.js";

const STRIPE_JS = "https://js.stripe.com/v3/";
const POLL_EVERY_MS = 2000;
const POLL_FOR_MS = 60_000;
export const HANDOFF_KEY = "clinic-stripe-return";

/**
 * The little of Stripe.js this file uses.
 * @typedef {{mount(el: HTMLElement): void}} StripePaymentElement
 * @typedef {{create(type: "payment", options?: object): StripePaymentElement, submit(): Promise<{error?: {message?: string}}>}} StripeElements
 * @typedef {{
 *   elements(options: {clientSecret: string, appearance?: object}): StripeElements,
 *   confirmPayment(options: {elements: StripeElements, redirect: "if_required", confirmParams: {return_url: string}}):
 *     Promise<{error?: {message?: string, type?: string}, paymentIntent?: {status: string}}>
 * }} StripeClient
 */

/** @returns {Promise<(key: string) => StripeClient>} */
function loadStripe() {
  const existing = /** @type {any} */ (window).Stripe;
  if (existing) return Promise.resolve(existing);
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = STRIPE_JS;
    script.async = true;
    script.addEventListener("load", () => {
      const Stripe = /** @type {any} */ (window).Stripe;
      if (Stripe) resolve(Stripe);
      else reject(new Error("Stripe.js did not load"));
    });
    script.addEventListener("error", () => reject(new Error("Stripe.js could not be loaded")));
    document.head.append(script);
  });
}

/**
 * Mounts the Payment Element and pays when the form is submitted.
 *
 * @param {object} o
 * @param {HTMLFormElement} o.form the form around the element (shown here)
 * @param {HTMLElement} o.mountPoint where the Payment Element goes (space reserved in CSS)
 * @param {HTMLButtonElement} o.button the form's pay button
 * @param {HTMLElement} o.errorBox role=alert box for Stripe's own messages
 * @param {string} o.publishableKey
 * @param {string} o.clientSecret
 * @param {string} o.consultationId
 * @param {string} o.manageToken
 * @param {(message: string) => void} o.onStatus polite announcements
 * @param {() => void} o.onConfirmed called once the booking is confirmed
 */
export async function payDepositWithStripe(o) {
  o.form.hidden = false;
  let stripe;
  try {
    stripe = (await loadStripe())(o.publishableKey);
  } catch {
    showError(o.errorBox, "The card payment form could not be loaded. Check your connection and reload the page, or contact the clinic to pay.");
    return;
  }
  const styles = getComputedStyle(document.documentElement);
  const elements = stripe.elements({
    clientSecret: o.clientSecret,
    appearance: { variables: { colorPrimary: styles.getPropertyValue("--brand-primary").trim() || undefined } },
  });
  elements.create("payment").mount(o.mountPoint);

  o.form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showError(o.errorBox, null);
    await withBusy(o.button, "Paying…", async () => {
      // Only for methods that must leave the page: see the note at the top.
      sessionStorage.setItem(HANDOFF_KEY, JSON.stringify({ id: o.consultationId, token: o.manageToken }));
      const result = await stripe.confirmPayment({
        elements,
        redirect: "if_required",
        confirmParams: { return_url: `${location.origin}/manage` },
      });
      sessionStorage.removeItem(HANDOFF_KEY); // still here: no redirect happened
      if (result.error) {
        showError(o.errorBox, result.error.message ?? "The payment did not go through. Please try again.");
        return;
      }
      o.onStatus("Payment sent. Waiting for the clinic to confirm your booking…");
      await waitForConfirmation(o);
    });
  });
}

/**
 * Polls the booking until it is confirmed, for up to a minute.
 * @param {{consultationId: string, manageToken: string, errorBox: HTMLElement, form: HTMLFormElement, onStatus: (m: string) => void, onConfirmed: () => void}} o
 */
async function waitForConfirmation(o) {
  const until = Date.now() + POLL_FOR_MS;
  while (Date.now() < until) {
    try {
      const c = await getConsultation(o.consultationId, o.manageToken);
      if (c.status === "confirmed") {
        o.form.hidden = true;
        o.onConfirmed();
        return;
      }
      if (c.status === "expired" || c.status === "cancelled") {
        showError(o.errorBox, "Your payment arrived after your time was released. The clinic will be in touch about your deposit; you can also contact them.");
        return;
      }
    } catch (err) {
      if (err instanceof ApiError && !err.retryable) {
        showError(o.errorBox, errorMessage(err));
        return;
      }
    }
    await new Promise((r) => setTimeout(r, POLL_EVERY_MS));
  }
  showError(
    o.errorBox,
    "Your payment was accepted, but the confirmation is taking longer than usual. You do not need to pay again: open “Manage my booking” in a few minutes to see it confirmed.",
  );
}
