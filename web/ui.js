// @ts-check
// Small DOM helpers shared by the booking and manage pages: building elements
// (text only, never innerHTML with API data), the live regions, field errors
// beside their fields, and the clinic's branding.

/** @typedef {import("./api.js").ClinicSettings} ClinicSettings */
/** @typedef {import("./api.js").ApiError} ApiError */
/** @typedef {import("./api.js").FieldError} FieldError */

/**
 * Creates an element. `props` sets attributes (`class`, `for`, `data-*`,
 * `aria-*`…; `true` for a bare attribute, false/null/undefined to skip);
 * children are nodes or strings (text).
 *
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, string | number | boolean | null | undefined>} [props]
 * @param {...(Node | string | null | undefined | false)} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === false || value === null || value === undefined) continue;
    el.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child);
  }
  return el;
}

/**
 * The element with that id, typed; throws if the page lacks it (a bug).
 * @template {HTMLElement} T
 * @param {string} id
 * @param {new () => T} [type]
 * @returns {T}
 */
export function byId(id, type) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing from the page`);
  if (type && !(el instanceof type)) throw new Error(`#${id} is not a ${type.name}`);
  return /** @type {T} */ (el);
}

/** Text split on blank lines into paragraphs. */
export function paragraphs(/** @type {string} */ text) {
  return text
    .split(/\n\s*\n/)
    .map((p) => p.trim())
    .filter(Boolean)
    .map((p) => h("p", {}, p));
}

// --- live regions ------------------------------------------------------------

/**
 * Says something politely to screen readers (the visible status line too).
 * The region is emptied first so that the same words are read again.
 */
export function announce(/** @type {string} */ message) {
  const region = document.getElementById("status");
  if (!region) return;
  region.textContent = "";
  // A separate task, so that screen readers notice the change.
  setTimeout(() => {
    region.textContent = message;
  }, 50);
}

/**
 * Shows an error in an alert box (role="alert": read at once). `box` is the
 * step's own error box; the text is the problem's `detail`, never a status.
 *
 * @param {HTMLElement} box
 * @param {string | null} message null hides the box
 * @param {string} [lead] a sentence of our own before the detail
 */
export function showError(box, message, lead) {
  box.replaceChildren();
  if (!message) {
    box.hidden = true;
    return;
  }
  if (lead) box.append(h("p", { class: "error-lead" }, lead));
  box.append(h("p", {}, message));
  box.hidden = false;
}

/** The message for an ApiError, with the wait for rate limits. */
export function errorMessage(/** @type {ApiError} */ err) {
  let text = err.problem.detail;
  if (err.status === 429 && err.retryAfter) {
    text += ` Please wait ${err.retryAfter} seconds and try again.`;
  }
  return text;
}

// --- field errors ------------------------------------------------------------

/**
 * Clears every field error inside `form`.
 * @param {HTMLElement} form
 */
export function clearFieldErrors(form) {
  for (const el of form.querySelectorAll("[data-error-for]")) {
    if (!(el instanceof HTMLElement)) continue;
    el.textContent = "";
    el.hidden = true;
  }
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
}

/**
 * Puts each message beside its field: the element `[data-error-for=FIELD]`
 * gets the text, and the controls of `[data-field=FIELD]` are marked
 * aria-invalid (they already point at the message with aria-describedby).
 * Returns the messages that had no place in the form, and focuses the first
 * field in error.
 *
 * @param {HTMLElement} form
 * @param {{field: string, message: string}[]} errors
 * @returns {string[]} messages without a field on this form
 */
export function showFieldErrors(form, errors) {
  /** @type {string[]} */
  const unplaced = [];
  /** @type {HTMLElement | null} */
  let first = null;
  for (const { field, message } of errors) {
    const slot = /** @type {HTMLElement | null} */ (form.querySelector(`[data-error-for="${CSS.escape(field)}"]`));
    if (!slot) {
      unplaced.push(message);
      continue;
    }
    slot.textContent = slot.textContent ? `${slot.textContent} ${capitalise(message)}.` : `${capitalise(message)}.`;
    slot.hidden = false;
    const holder = form.querySelector(`[data-field="${CSS.escape(field)}"]`);
    const controls = holder
      ? holder.matches("input, select, textarea")
        ? [holder]
        : [...holder.querySelectorAll("input, select, textarea")]
      : [];
    for (const c of controls) c.setAttribute("aria-invalid", "true");
    if (!first && controls[0] instanceof HTMLElement) first = controls[0];
  }
  first?.focus();
  return unplaced;
}

/** @param {string} s */
function capitalise(s) {
  const t = s.trim().replace(/\.$/, "");
  return t.charAt(0).toUpperCase() + t.slice(1);
}

// --- buttons -----------------------------------------------------------------

/**
 * Runs `work` with the button busy (disabled against double submits, its
 * label saying what is happening), then restores it.
 *
 * @template T
 * @param {HTMLButtonElement} button
 * @param {string} busyLabel
 * @param {() => Promise<T>} work
 * @returns {Promise<T>}
 */
export async function withBusy(button, busyLabel, work) {
  const label = button.textContent;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  button.textContent = busyLabel;
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
    button.textContent = label;
  }
}

/** Moves focus to a heading (or other element) after a change of step. */
export function focusHeading(/** @type {HTMLElement} */ el) {
  if (!el.hasAttribute("tabindex")) el.setAttribute("tabindex", "-1");
  el.focus({ preventScroll: true });
  el.scrollIntoView({ block: "start", behavior: matchMedia("(prefers-reduced-motion: reduce)").matches ? "auto" : "smooth" });
}

// --- branding ----------------------------------------------------------------

const HEX = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i;

/** Relative luminance of a #rgb / #rrggbb colour (WCAG 2). */
function luminance(/** @type {string} */ hex) {
  let v = hex.slice(1);
  if (v.length === 3) v = [...v].map((c) => c + c).join("");
  const [r, g, b] = [0, 2, 4].map((i) => {
    const c = parseInt(v.slice(i, i + 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * (r ?? 0) + 0.7152 * (g ?? 0) + 0.0722 * (b ?? 0);
}

/** Contrast ratio of two luminances. */
function contrast(/** @type {number} */ a, /** @type {number} */ b) {
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}

/**
 * Applies the clinic's name, colours and logo. Colours go into CSS custom
 * properties (element.style.setProperty is allowed by the page's CSP, which
 * forbids style="" attributes). Text on the primary colour is white or near
 * black, whichever reads better; a primary too light to be text on white is
 * not used for text (the default stays).
 *
 * @param {ClinicSettings} clinic
 */
export function applyBranding(clinic) {
  const root = document.documentElement.style;
  const primary = clinic.branding.primary_colour;
  if (primary && HEX.test(primary)) {
    const lum = luminance(primary);
    root.setProperty("--brand-primary", primary);
    root.setProperty("--brand-on-primary", contrast(lum, 1) >= contrast(lum, luminance("#1a1a1a")) ? "#ffffff" : "#1a1a1a");
    // Links and headings use the primary only where it is readable on white.
    if (contrast(lum, 1) >= 4.5) root.setProperty("--brand-text", primary);
  }
  const accent = clinic.branding.accent_colour;
  if (accent && HEX.test(accent)) root.setProperty("--brand-accent", accent);

  for (const el of document.querySelectorAll("[data-clinic-name]")) el.textContent = clinic.name;
  document.title = document.title.replace("the clinic", clinic.name);

  const logo = document.getElementById("logo");
  const url = clinic.branding.logo_url;
  if (logo instanceof HTMLImageElement && url && /^(https?:\/\/|\/)/.test(url)) {
    // The clinic's name is written beside the logo, so the logo itself is decoration.
    logo.alt = "";
    logo.src = url;
    logo.hidden = false;
  }

  const contact = document.getElementById("clinic-contact");
  if (contact) {
    contact.replaceChildren();
    if (clinic.address) contact.append(h("p", {}, clinic.address));
    if (clinic.phone) contact.append(h("p", {}, "Phone: ", h("a", { href: `tel:${clinic.phone.replace(/[^+\d]/g, "")}` }, clinic.phone)));
    if (clinic.email) contact.append(h("p", {}, "Email: ", h("a", { href: `mailto:${clinic.email}` }, clinic.email)));
  }
}

/** Whether the page is the embeddable variant (served at /embed, no header or footer). */
export function isEmbedded() {
  return location.pathname === "/embed";
}

/**
 * Offers `text` as a file download (a Blob URL on a temporary link; the
 * page's CSP allows it since nothing is fetched from elsewhere).
 * @param {string} text
 * @param {string} filename
 * @param {string} type
 */
export function downloadText(text, filename, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h("a", { href: url, download: filename, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  // Long enough for the browser to start the download.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
