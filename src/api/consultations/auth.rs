//! How a request to a booking is authenticated: its manage token, or an
//! API key.

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest};

use crate::api::auth::{self, app_of, Identity};
use crate::api::error::ApiError;
use crate::db::{DbConnection, DbError};
use crate::domain::actor::Actor;
use crate::secrets::{self, SecretKind};
use crate::store::consultations as store;
use crate::store::notifications::link_consultation;

/// The holder a manage token stands for, as the hash of the booking's own
/// manage token: the token given at booking time, or the token of a
/// manage link sent in one of the booking's messages (each message has its
/// own, and opens the booking the same way).
fn holder_of(conn: &mut DbConnection, hash: String) -> Result<Option<String>, DbError> {
    if store::by_manage_token_hash(conn, &hash)?.is_some() {
        return Ok(Some(hash));
    }
    let Some(id) = link_consultation(conn, &hash)? else {
        return Ok(None);
    };
    Ok(store::get(conn, &id)?.map(|c| c.manage_token_hash))
}

/// How a request to a booking is authenticated: its manage token, or an
/// API key. Neither (or a token that opens no booking) is 401; another
/// booking's token is answered 404.
pub enum BookingAuth {
    None,
    ManageToken(String),
    Key(Identity),
}

impl BookingAuth {
    /// The actor; 401 without credentials. (Whether the booking exists is
    /// never told apart: another booking's token gets 404 from `load`.)
    pub fn actor(&self) -> Result<Actor, ApiError> {
        match self {
            BookingAuth::None => Err(ApiError::Unauthorized(
                "This route needs the booking's manage token (Authorization: Bearer mt_…) or an API key.",
            )),
            BookingAuth::ManageToken(hash) => Ok(Actor::Client(hash.clone())),
            BookingAuth::Key(identity) => Ok(identity.actor()),
        }
    }

    /// Who is calling, for idempotency scopes.
    pub fn caller(&self) -> String {
        match self {
            BookingAuth::None => "anon".into(),
            BookingAuth::ManageToken(hash) => format!("mt:{}", &hash[..16]),
            BookingAuth::Key(identity) => format!("key:{}", identity.key_id),
        }
    }
}

impl FromRequest for BookingAuth {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let token = auth::bearer(&req)?.map(str::to_owned);
            match token.as_deref().and_then(SecretKind::of) {
                Some(SecretKind::ManageToken) => {
                    // A token that opens no booking is not a credential at all.
                    let hash = secrets::hash(&token.unwrap_or_default());
                    let app = app_of(&req)?;
                    let holder = app
                        .db
                        .run(move |conn| holder_of(conn, hash))
                        .await?
                        .ok_or(ApiError::Unauthorized("The manage token is unknown."))?;
                    Ok(BookingAuth::ManageToken(holder))
                }
                Some(SecretKind::ApiKey) => Ok(auth::identify(&req)
                    .await?
                    .map_or(BookingAuth::None, BookingAuth::Key)),
                _ if token.is_some() => Err(ApiError::Unauthorized("Unrecognised bearer token.")),
                _ => Ok(BookingAuth::None),
            }
        })
    }
}
