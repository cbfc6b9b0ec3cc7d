//! Small response helpers shared by the resources.

use actix_web::http::header;
use actix_web::HttpResponse;
use serde::Serialize;

/// 201 Created with a Location header.
pub fn created<T: Serialize>(location: &str, body: &T) -> HttpResponse {
    HttpResponse::Created()
        .insert_header((header::LOCATION, location.to_owned()))
        .json(body)
}
