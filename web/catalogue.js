// @ts-check
// The treatment summary (GET /v1/treatments) and the FAQ with search
// (GET /v1/faqs?q=). Both fill space that the page reserves in CSS while they
// load, so nothing below them jumps when they arrive.

import { ApiError, followFaqs, listFaqs } from "./api.js";
import { minutes, topicLabel } from "./format.js";
import { announce, errorMessage, h, paragraphs } from "./ui.js";

/** @typedef {import("./api.js").Treatment} Treatment */
/** @typedef {import("./api.js").Faq} Faq */

/** @type {Record<string, string>} */
const INJECTABLES = { neuromodulator: "Neuromodulators", dermal_filler: "Dermal fillers" };

/** @type {Record<string, string>} */
const CONTRAINDICATIONS = {
  pregnant: "are pregnant",
  breastfeeding: "are breastfeeding",
  autoimmune_condition: "have an autoimmune condition",
  active_infection_at_site: "have an active infection where the injections would go",
};

/** @param {number} months */
function monthsText(months) {
  if (months % 12 === 0) {
    const years = months / 12;
    return `${years} year${years === 1 ? "" : "s"}`;
  }
  return `${months} month${months === 1 ? "" : "s"}`;
}

/**
 * Fills #treatment with the treatments: name (the page's h1 when there is one
 * treatment), summary, and what it involves.
 * @param {HTMLElement} section
 * @param {Treatment[]} treatments
 */
export function renderTreatments(section, treatments) {
  section.removeAttribute("aria-busy");
  section.classList.remove("is-loading");
  const title = section.querySelector("h1");
  const lead = section.querySelector(".treatment-lead");
  const body = section.querySelector(".treatment-body");
  if (!title || !(lead instanceof HTMLElement) || !(body instanceof HTMLElement)) return;
  const only = treatments.length === 1 ? treatments[0] : undefined;
  if (only) {
    // One treatment: its name is the page's h1 and its summary the lead.
    title.textContent = only.name;
    lead.replaceChildren(h("p", { class: "lead" }, only.summary));
    body.replaceChildren(h("h2", {}, "What the treatment involves"), ...treatmentDetails(only));
    return;
  }
  title.textContent = treatments.length ? "Our treatments" : "Book a consultation";
  lead.replaceChildren(
    h("p", { class: "lead" }, treatments.length ? "Every treatment starts with a consultation, where the practitioner assesses you and plans with you." : "Our treatments will be listed here soon. You can still book a consultation below."),
  );
  body.replaceChildren(
    ...treatments.map((t) => h("article", { class: "treatment" }, h("h2", {}, t.name), h("p", {}, t.summary), h("h3", {}, "What it involves"), ...treatmentDetails(t))),
  );
}

/**
 * The facts of a treatment and its full description.
 * @param {Treatment} t
 * @returns {HTMLElement[]}
 */
function treatmentDetails(t) {
  const facts = h("dl", { class: "facts" });
  /** @param {string} term @param {string} value */
  const fact = (term, value) => {
    facts.append(h("div", {}, h("dt", {}, term), h("dd", {}, value)));
  };
  const len = t.session_minutes;
  fact("Session length", len.min === len.max ? minutes(len.min) : `${len.min} to ${len.max} minutes`);
  const kinds = t.injectables.map((i) => INJECTABLES[i] ?? i);
  fact("What is used", kinds.length === 2 ? `${kinds[0]}, ${kinds[1]?.toLowerCase()}, or both` : kinds.join(", "));
  for (const d of t.effect_duration) {
    fact(`How long ${(INJECTABLES[d.injectable] ?? d.injectable).toLowerCase()} last`, `${monthsText(d.min_months)} to ${monthsText(d.max_months)}`);
  }
  for (const r of t.results_onset) {
    fact(`When results from ${(INJECTABLES[r.injectable] ?? r.injectable).toLowerCase()} show`, r.description);
  }
  fact("Comfort", t.anaesthetic);
  if (t.side_effects.length) fact("Common side effects", capitalise(t.side_effects.join(", ")));
  const cannot = /** @type {string[]} */ (t.contraindications.map((c) => CONTRAINDICATIONS[c]).filter(Boolean));
  fact(
    "Who can be treated",
    `People aged ${t.minimum_age} or over on the day of their appointment.` + (cannot.length ? ` We cannot treat you if you ${listWords(cannot)}.` : ""),
  );
  return [facts, h("details", { class: "more" }, h("summary", {}, "Read the full description"), ...paragraphs(t.description))];
}

/** @param {string} s */
function capitalise(s) {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** ["a", "b", "c"] → "a, b or c" */
function listWords(/** @type {string[]} */ words) {
  if (words.length <= 1) return words.join("");
  return `${words.slice(0, -1).join(", ")} or ${words.at(-1)}`;
}

// --- FAQ -----------------------------------------------------------------

/**
 * The FAQ: every published entry grouped by topic, a search box that asks the
 * API (`q=`), and "More questions" following the list's `next` link.
 * @param {HTMLElement} section #faq
 */
export function setUpFaq(section) {
  const form = /** @type {HTMLFormElement} */ (section.querySelector("form"));
  const input = /** @type {HTMLInputElement} */ (section.querySelector("input[type=search]"));
  const list = /** @type {HTMLElement} */ (section.querySelector(".faq-list"));
  const more = /** @type {HTMLButtonElement} */ (section.querySelector(".faq-more"));
  const summary = /** @type {HTMLElement} */ (section.querySelector(".faq-summary"));
  /** @type {string | null} */
  let next = null;
  /** @type {Faq[]} */
  let items = [];
  let query = "";
  let generation = 0; // answers to an older search are ignored

  /** @param {string} typed */
  async function search(typed) {
    // The API refuses control characters (a pasted tab, say): make them spaces.
    const q = typed.replace(/[\u0000-\u001f\u007f]+/g, " ").trim();
    const mine = ++generation;
    query = q;
    list.setAttribute("aria-busy", "true");
    try {
      const page = await listFaqs(q ? { q } : {});
      if (mine !== generation) return;
      items = page.items;
      next = page.next ?? null;
      draw();
      if (q) {
        announce(items.length === 0 ? `No questions match “${q}”.` : `${items.length}${next ? " or more" : ""} question${items.length === 1 ? "" : "s"} match “${q}”.`);
      }
    } catch (err) {
      if (mine !== generation) return;
      list.replaceChildren(h("p", { class: "inline-error", role: "alert" }, err instanceof ApiError ? errorMessage(err) : "The questions could not be loaded."));
    } finally {
      if (mine === generation) list.removeAttribute("aria-busy");
      section.classList.remove("is-loading");
    }
  }

  function draw() {
    summary.textContent = query ? `Showing questions that match “${query}”.` : "";
    summary.hidden = !query;
    if (items.length === 0) {
      list.replaceChildren(h("p", { class: "empty" }, query ? `No questions match “${query}”. Try another word, or clear the search.` : "No questions yet."));
    } else {
      /** @type {Map<string, Faq[]>} */
      const byTopic = new Map();
      for (const f of items) byTopic.set(f.topic, [...(byTopic.get(f.topic) ?? []), f]);
      list.replaceChildren(
        ...[...byTopic].map(([topic, faqs]) =>
          h(
            "div",
            { class: "faq-topic" },
            h("h3", {}, topicLabel(topic)),
            ...faqs.map((f) => h("details", { class: "faq" }, h("summary", {}, f.question), h("div", { class: "answer" }, ...paragraphs(f.answer)))),
          ),
        ),
      );
    }
    more.hidden = !next;
  }

  let timer = 0;
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = window.setTimeout(() => search(input.value.trim()), 350);
  });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    clearTimeout(timer);
    search(input.value.trim());
  });
  more.addEventListener("click", async () => {
    if (!next) return;
    const count = items.length;
    try {
      const page = await followFaqs(next);
      items = [...items, ...page.items];
      next = page.next ?? null;
      draw();
      announce(`${page.items.length} more questions shown.`);
      const firstNew = list.querySelectorAll("details.faq summary")[count];
      if (firstNew instanceof HTMLElement) firstNew.focus();
    } catch (err) {
      announce(err instanceof ApiError ? errorMessage(err) : "More questions could not be loaded.");
    }
  });

  return search("");
}
