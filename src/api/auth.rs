//! Who is calling: API keys with roles, presented as `Authorization: Bearer`
//! (a booking's manage token is handled by `api::consultations::auth`).
//!
//! A route states the roles it allows by the extractor it takes; a missing or
//! unknown key is 401, a key without the role is 403.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};

use crate::api::error::ApiError;
use crate::app::App;
pub use crate::domain::actor::{Identity, Role};
use crate::secrets::SecretKind;

/// The bearer secret of a request, if any.
pub fn bearer(req: &HttpRequest) -> Result<Option<&str>, ApiError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| ApiError::Unauthorized("The Authorization header is not valid text."))?;
    let (scheme, token) = value
        .split_once(' ')
        .ok_or(ApiError::Unauthorized("Use Authorization: Bearer <token>."))?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(ApiError::Unauthorized("Use Authorization: Bearer <token>."));
    }
    Ok(Some(token.trim()))
}

/// Looks up the API key presented with a request. `Ok(None)` when no
/// Authorization header was sent (or it carries another kind of token).
pub async fn identify(req: &HttpRequest) -> Result<Option<Identity>, ApiError> {
    let Some(token) = bearer(req)? else {
        return Ok(None);
    };
    if SecretKind::of(token) != Some(SecretKind::ApiKey) {
        return Ok(None);
    }
    let app = app_of(req)?;
    let identity = crate::app::api_keys::authenticate(&app, token)
        .await?
        .ok_or(ApiError::Unauthorized("The API key is unknown or revoked."))?;
    Ok(Some(identity))
}

/// The application a request is served by.
pub fn app_of(req: &HttpRequest) -> Result<web::Data<App>, ApiError> {
    req.app_data::<web::Data<App>>()
        .cloned()
        .ok_or_else(|| ApiError::internal("application state missing"))
}

/// The set of roles a route admits.
pub trait Allowed {
    fn allows(role: Role) -> bool;
}

/// Admin and staff keys.
pub struct StaffRoles;
impl Allowed for StaffRoles {
    fn allows(role: Role) -> bool {
        role.is_staff()
    }
}

/// Admin keys only.
pub struct AdminRoles;
impl Allowed for AdminRoles {
    fn allows(role: Role) -> bool {
        role == Role::Admin
    }
}

/// Any valid key: admin, staff or partner.
pub struct AnyRole;
impl Allowed for AnyRole {
    fn allows(_: Role) -> bool {
        true
    }
}

/// Extracts a caller whose key has one of the roles `P` allows.
pub struct Authenticated<P> {
    pub identity: Identity,
    _policy: PhantomData<P>,
}

pub type StaffKey = Authenticated<StaffRoles>;
pub type AdminKey = Authenticated<AdminRoles>;
pub type AnyKey = Authenticated<AnyRole>;

impl<P: Allowed + 'static> FromRequest for Authenticated<P> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let identity = identify(&req).await?.ok_or(ApiError::Unauthorized(
                "This route needs an API key: Authorization: Bearer ck_…",
            ))?;
            if !P::allows(identity.role) {
                return Err(ApiError::Forbidden);
            }
            Ok(Self {
                identity,
                _policy: PhantomData,
            })
        })
    }
}

/// An optional API key: public routes that show more to staff.
pub struct MaybeKey(pub Option<Identity>);

impl MaybeKey {
    pub fn is_staff(&self) -> bool {
        self.0.as_ref().is_some_and(|i| i.role.is_staff())
    }
}

impl FromRequest for MaybeKey {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { Ok(MaybeKey(identify(&req).await?)) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_sets_nest() {
        assert!(StaffRoles::allows(Role::Admin));
        assert!(!StaffRoles::allows(Role::Partner));
        assert!(!AdminRoles::allows(Role::Staff));
        assert!(AnyRole::allows(Role::Partner));
    }
}
