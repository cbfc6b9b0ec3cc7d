// @ts-check
// The page's only way to talk to clinic-api. Same origin, JSON in and out.
//
// Types come from the committed OpenAPI document: ci/page/run.sh generates
// ci/page/.generated/api.d.ts with openapi-typescript and type-checks web/*.js
// with `tsc --checkJs` (the "clinic-api" module name is mapped to that file in
// ci/page/tsconfig.json). A change of the API that breaks the page stops the
// check. Browsers ignore these JSDoc comments: nothing here is compiled.

/** @typedef {import("clinic-api").paths} Paths */
/** @typedef {import("clinic-api").components["schemas"]} Schemas */
/** @typedef {Schemas["Treatment"]} Treatment */
/** @typedef {Schemas["Faq"]} Faq */
/** @typedef {Schemas["FaqList"]} FaqList */
/** @typedef {Schemas["Availability"]} Availability */
/** @typedef {Schemas["AvailableSlot"]} AvailableSlot */
/** @typedef {Schemas["Practitioner"]} Practitioner */
/** @typedef {Schemas["ScreeningRequest"]} ScreeningRequest */
/** @typedef {Schemas["ScreeningResult"]} ScreeningResult */
/** @typedef {Schemas["BookingRequest"]} BookingRequest */
/** @typedef {Schemas["BookingCreated"]} BookingCreated */
/** @typedef {Schemas["Consultation"]} Consultation */
/** @typedef {Schemas["CancellationResult"]} CancellationResult */
/** @typedef {Schemas["RescheduleRequest"]} RescheduleRequest */
/** @typedef {Schemas["Problem"]} Problem */
/** @typedef {Schemas["FieldError"]} FieldError */
/** @typedef {Schemas["Money"]} Money */

/** @typedef {Schemas["ClinicSettings"]} ClinicSettings the clinic's public settings, from `GET /v1/clinic` */

/**
 * An API call that did not succeed. `problem` is always filled: the server's
 * application/problem+json body, or one made up here for a network failure
 * (code "network_error") or a body that is not a problem document.
 */
export class ApiError extends Error {
  /**
   * @param {number} status HTTP status, 0 when the request never got an answer
   * @param {Problem} problem
   * @param {string | null} retryAfter the Retry-After header, if any
   */
  constructor(status, problem, retryAfter = null) {
    super(problem.detail);
    this.name = "ApiError";
    this.status = status;
    this.problem = problem;
    this.code = problem.code;
    this.retryAfter = retryAfter;
  }

  /** Whether sending the very same request again may work (and must reuse its Idempotency-Key). */
  get retryable() {
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }
}

/** @param {string} code @param {string} detail @param {number} status @returns {Problem} */
function localProblem(code, detail, status) {
  return { type: `about:blank#${code}`, title: "Request failed", status, detail, code };
}

/**
 * @typedef {object} RequestOptions
 * @property {Record<string, string>} [path] values for the `{name}` parts of the path
 * @property {Record<string, string | number | undefined>} [query]
 * @property {unknown} [body] sent as JSON
 * @property {string} [token] manage token, sent as `Authorization: Bearer …` (never in the URL)
 * @property {string} [idempotencyKey]
 * @property {"json" | "text"} [as] how to read a successful body (default json)
 */

/**
 * One request. `template` must be a path of the OpenAPI document (checked by
 * tsc), e.g. "/v1/consultations/{id}"; its `{name}` parts are filled from
 * `opts.path`.
 *
 * @template {keyof Paths} P
 * @param {"GET" | "POST"} method
 * @param {P} template
 * @param {RequestOptions} [opts]
 * @returns {Promise<any>} narrowed by the typed wrappers below
 */
async function request(method, template, opts = {}) {
  let url = String(template).replace(/\{(\w+)\}/g, (_, name) => {
    const value = opts.path?.[name];
    if (value === undefined) throw new Error(`missing path parameter ${name}`);
    return encodeURIComponent(value);
  });
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(opts.query ?? {})) {
    if (value !== undefined && value !== "") query.set(key, String(value));
  }
  if ([...query].length) url += `?${query}`;
  return send(method, url, opts);
}

/**
 * @param {string} method
 * @param {string} url same-origin path and query
 * @param {RequestOptions} opts
 */
async function send(method, url, opts) {
  /** @type {Record<string, string>} */
  const headers = { Accept: opts.as === "text" ? "text/calendar, application/problem+json" : "application/json" };
  if (opts.body !== undefined) headers["Content-Type"] = "application/json";
  if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
  if (opts.idempotencyKey) headers["Idempotency-Key"] = opts.idempotencyKey;

  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      credentials: "omit", // nothing here uses cookies
      cache: "no-store",
      referrerPolicy: "no-referrer",
    });
  } catch {
    throw new ApiError(
      0,
      localProblem(
        "network_error",
        "We could not reach the clinic's booking system. Check your internet connection and try again.",
        0,
      ),
    );
  }
  if (response.ok) {
    if (response.status === 204) return undefined;
    return opts.as === "text" ? response.text() : response.json();
  }
  /** @type {Problem} */
  let problem;
  try {
    const body = await response.json();
    problem =
      body && typeof body.detail === "string" && typeof body.code === "string"
        ? body
        : localProblem("unexpected_response", "Something went wrong on our side. Please try again in a moment.", response.status);
  } catch {
    problem = localProblem("unexpected_response", "Something went wrong on our side. Please try again in a moment.", response.status);
  }
  throw new ApiError(response.status, problem, response.headers.get("Retry-After"));
}

// --- typed wrappers, one per operation the page uses ------------------------

/** @returns {Promise<ClinicSettings>} */
export function getClinic() {
  return request("GET", "/v1/clinic");
}

/** @returns {Promise<Schemas["TreatmentList"]>} */
export function listTreatments() {
  return request("GET", "/v1/treatments");
}

/**
 * @param {{q?: string, limit?: number}} [params]
 * @returns {Promise<FaqList>}
 */
export function listFaqs(params = {}) {
  return request("GET", "/v1/faqs", { query: params });
}

/**
 * The next page of a FAQ list, from its `next` link (a same-origin path).
 * @param {string} next
 * @returns {Promise<FaqList>}
 */
export function followFaqs(next) {
  if (!next.startsWith("/v1/faqs?")) throw new Error("unexpected next link");
  return send("GET", next, {});
}

/** @returns {Promise<Schemas["PractitionerList"]>} */
export function listPractitioners() {
  return request("GET", "/v1/practitioners");
}

/**
 * @param {string} from clinic-local date, inclusive
 * @param {string} to clinic-local date, inclusive
 * @returns {Promise<Availability>}
 */
export function getAvailability(from, to) {
  return request("GET", "/v1/availability", { query: { from, to } });
}

/**
 * @param {ScreeningRequest} body
 * @returns {Promise<ScreeningResult>}
 */
export function createScreening(body) {
  return request("POST", "/v1/screenings", { body });
}

/**
 * @param {BookingRequest} body
 * @param {string} idempotencyKey the same key for a retry of the same body
 * @returns {Promise<BookingCreated>}
 */
export function createConsultation(body, idempotencyKey) {
  return request("POST", "/v1/consultations", { body, idempotencyKey });
}

/**
 * @param {string} id
 * @param {string} token manage token
 * @returns {Promise<Consultation>}
 */
export function getConsultation(id, token) {
  return request("GET", "/v1/consultations/{id}", { path: { id }, token });
}

/**
 * @param {string} id
 * @param {string} token
 * @param {Schemas["CancelRequest"]} body `{dry_run: true}` previews
 * @param {string} [idempotencyKey]
 * @returns {Promise<CancellationResult>}
 */
export function cancelConsultation(id, token, body, idempotencyKey) {
  return request("POST", "/v1/consultations/{id}/cancel", { path: { id }, token, body, idempotencyKey });
}

/**
 * @param {string} id
 * @param {string} token
 * @param {RescheduleRequest} body
 * @param {string} idempotencyKey
 * @returns {Promise<Consultation>}
 */
export function rescheduleConsultation(id, token, body, idempotencyKey) {
  return request("POST", "/v1/consultations/{id}/reschedule", { path: { id }, token, body, idempotencyKey });
}

/**
 * The booking's iCalendar file, as text.
 * @param {string} id
 * @param {string} token
 * @returns {Promise<string>}
 */
export function getCalendar(id, token) {
  return request("GET", "/v1/consultations/{id}/calendar.ics", { path: { id }, token, as: "text" });
}

/** A fresh Idempotency-Key. */
export function newIdempotencyKey() {
  return crypto.randomUUID();
}
