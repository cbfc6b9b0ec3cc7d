// A small client of clinic-api written only against the types that
// openapi-typescript generates from openapi/openapi.json (generated/clinic-api.d.ts,
// made by run.sh; not committed). `tsc --noEmit` on this file is the contract
// check: if the document changes in a way that breaks a client of the booking
// flow, this stops compiling.
//
// run.sh also compiles it and runs it once against the live server:
//   CLINIC_API_URL=http://127.0.0.1:PORT CLINIC_API_KEY=ck_… node out/client-check.js
// It lists treatments, sets up a practitioner with opening hours (staff key),
// screens a client, reads availability and books the first free slot.
import createClient from "openapi-fetch";
import type { components, paths } from "./generated/clinic-api.js";

type Schemas = components["schemas"];
type Treatment = Schemas["Treatment"];
type ScreeningRequest = Schemas["ScreeningRequest"];
type ScreeningResult = Schemas["ScreeningResult"];
type AvailableSlot = Schemas["AvailableSlot"];
type BookingRequest = Schemas["BookingRequest"];
type BookingCreated = Schemas["BookingCreated"];
type Problem = Schemas["Problem"];

export type ClinicClient = ReturnType<typeof createClient<paths>>;

export function clinicClient(baseUrl: string, apiKey?: string): ClinicClient {
  return createClient<paths>({
    baseUrl,
    headers: apiKey ? { Authorization: `Bearer ${apiKey}` } : {},
  });
}

class ApiError extends Error {
  constructor(step: string, status: number, problem: Problem | undefined) {
    super(`${step}: HTTP ${status} ${problem ? `${problem.code}: ${problem.detail}` : "(no problem body)"}`);
  }
}

/** Clinic-local date `days` from today, `YYYY-MM-DD` (UTC is close enough for a window of days). */
function isoDate(days: number): string {
  return new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);
}

export async function listTreatments(client: ClinicClient): Promise<Treatment[]> {
  const { data, error, response } = await client.GET("/v1/treatments");
  if (error !== undefined || data === undefined) throw new ApiError("list treatments", response.status, error);
  return data.items;
}

export async function screen(client: ClinicClient, appointmentDate: string): Promise<ScreeningResult> {
  const body: ScreeningRequest = {
    date_of_birth: "1990-04-12",
    pregnant: false,
    breastfeeding: false,
    autoimmune_condition: false,
    active_infection_at_site: false,
    other_medical_conditions: false,
    appointment_date: appointmentDate,
  };
  const { data, error, response } = await client.POST("/v1/screenings", { body });
  if (error !== undefined || data === undefined) throw new ApiError("screen", response.status, error);
  return data;
}

export async function availability(
  client: ClinicClient,
  from: string,
  to: string,
  practitionerId?: string,
): Promise<AvailableSlot[]> {
  const { data, error, response } = await client.GET("/v1/availability", {
    params: { query: { from, to, practitioner_id: practitionerId } },
  });
  if (error !== undefined || data === undefined) throw new ApiError("availability", response.status, error);
  return data.slots;
}

export async function book(
  client: ClinicClient,
  slot: AvailableSlot,
  screeningToken: string,
  treatmentId: string | undefined,
): Promise<BookingCreated> {
  const body: BookingRequest = {
    client: {
      full_name: "Alex Morgan",
      email: "alex@example.com",
      phone: "+44 7700 900123",
      date_of_birth: "1990-04-12",
    },
    screening_token: screeningToken,
    practitioner_id: slot.practitioner_id,
    starts_at: slot.starts_at,
    treatment_id: treatmentId ?? null,
    notes: "Booked by ci/contract/client-check.ts",
    accept_cancellation_policy: true,
  };
  const { data, error, response } = await client.POST("/v1/consultations", {
    params: { header: { "Idempotency-Key": crypto.randomUUID() } },
    body,
  });
  if (error !== undefined || data === undefined) throw new ApiError("book", response.status, error);
  if (response.status !== 201) throw new Error(`book: expected 201, got ${response.status}`);
  return data;
}

/** Staff set-up so that availability has something to offer: a practitioner open every day. */
async function openPractitioner(staff: ClinicClient): Promise<string> {
  const created = await staff.POST("/v1/practitioners", {
    body: { name: "Contract Check", title: "Nurse prescriber", active: true },
  });
  if (created.error !== undefined || created.data === undefined) {
    throw new ApiError("create practitioner", created.response.status, created.error);
  }
  const id = created.data.id;
  const weekdays = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
  const hours = await staff.PUT("/v1/practitioners/{id}/opening-hours", {
    params: { path: { id } },
    body: { windows: weekdays.map((weekday) => ({ weekday, opens: "09:00", closes: "17:00" })) },
  });
  if (hours.error !== undefined) throw new ApiError("set opening hours", hours.response.status, hours.error);
  return id;
}

async function main(): Promise<void> {
  const baseUrl = process.env.CLINIC_API_URL;
  const apiKey = process.env.CLINIC_API_KEY;
  if (!baseUrl || !apiKey) throw new Error("set CLINIC_API_URL and CLINIC_API_KEY");
  const staff = clinicClient(baseUrl, apiKey);
  const anonymous = clinicClient(baseUrl);

  const treatments = await listTreatments(anonymous);
  if (treatments.length === 0) throw new Error("list treatments: the seeded catalogue is empty");
  console.log(`treatments: ${treatments.map((t) => t.slug).join(", ")}`);

  const practitionerId = await openPractitioner(staff);
  const slots = await availability(anonymous, isoDate(2), isoDate(9), practitionerId);
  const slot = slots[0];
  if (slot === undefined) throw new Error("availability: no free slot in the next week");
  console.log(`availability: ${slots.length} slots, first ${slot.local_starts_at}`);

  const screening = await screen(anonymous, slot.local_starts_at.slice(0, 10));
  if (screening.outcome === "ineligible" || screening.screening_token === undefined) {
    throw new Error(`screen: expected a screening token, got ${screening.outcome}`);
  }
  console.log(`screening: ${screening.outcome}`);

  const booking = await book(anonymous, slot, screening.screening_token, treatments[0]?.id);
  console.log(`booked: ${booking.id} ${booking.status} at ${booking.local_starts_at}`);
  if (!booking.manage_token.startsWith("mt_")) throw new Error("book: manage token missing");

  // Self-service read with the manage token.
  const holder = clinicClient(baseUrl, booking.manage_token);
  const read = await holder.GET("/v1/consultations/{id}", { params: { path: { id: booking.id } } });
  if (read.error !== undefined || read.data === undefined) {
    throw new ApiError("read booking", read.response.status, read.error);
  }
  if (read.data.status !== "pending_deposit") throw new Error(`read booking: status ${read.data.status}`);
  console.log("client-check: OK");
}

// Only run when executed (node out/client-check.js), not when imported.
if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: unknown) => {
    console.error(`client-check: FAILED: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
