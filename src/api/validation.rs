//! Request checks shared by the resources' `Validate` impls.

use validator::{ValidationError, ValidationErrors};

use crate::domain::text::has_visible;

/// Adds a field error to a validator error set.
pub fn reject(
    errors: &mut ValidationErrors,
    field: &'static str,
    code: &'static str,
    message: String,
) {
    errors.add(
        field,
        ValidationError::new(code).with_message(message.into()),
    );
}

/// Checks a text field: 1 to `max` characters, at least one of them
/// visible (a name of zero-width characters is no name).
pub fn check_text(errors: &mut ValidationErrors, field: &'static str, value: &str, max: usize) {
    if !has_visible(value) || value.chars().count() > max {
        reject(
            errors,
            field,
            "length",
            format!("must be 1 to {max} characters"),
        );
    }
}

/// Checks an optional text field's length in characters (at most `max`).
pub fn check_optional_text(
    errors: &mut ValidationErrors,
    field: &'static str,
    value: Option<&str>,
    max: usize,
) {
    if value.is_some_and(|v| v.chars().count() > max) {
        reject(
            errors,
            field,
            "length",
            format!("must be at most {max} characters"),
        );
    }
}

/// The outcome of a set of checks.
pub fn finish(errors: ValidationErrors) -> Result<(), ValidationErrors> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// `^\+?[0-9][0-9 ()-]{5,29}[0-9]$`, as the booking schema says.
pub fn is_phone(s: &str) -> bool {
    let body = s.strip_prefix('+').unwrap_or(s).as_bytes();
    (7..=31).contains(&body.len())
        && body[0].is_ascii_digit()
        && body[body.len() - 1].is_ascii_digit()
        && body
            .iter()
            .all(|c| c.is_ascii_digit() || b" ()-".contains(c))
}

/// An email address of at most 254 characters.
pub fn is_email(s: &str) -> bool {
    use validator::ValidateEmail;
    s.len() <= 254 && s.validate_email()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_and_emails() {
        assert!(is_phone("+44 7700 900123"));
        assert!(is_phone("07700 900123"));
        assert!(!is_phone("+44"));
        assert!(!is_phone("call me"));
        assert!(is_email("alex@example.com"));
        assert!(!is_email("alex"));
    }

    #[test]
    fn text_lengths_are_counted_in_characters() {
        let mut errors = ValidationErrors::new();
        check_text(&mut errors, "name", "é", 1);
        check_optional_text(&mut errors, "notes", Some("ab"), 2);
        assert!(finish(errors).is_ok());
        let mut errors = ValidationErrors::new();
        check_text(&mut errors, "name", "\u{200B}\u{200D}", 10);
        assert!(finish(errors).is_err());
        let mut errors = ValidationErrors::new();
        check_text(&mut errors, "name", "  ", 10);
        check_optional_text(&mut errors, "notes", Some("abc"), 2);
        assert!(finish(errors).is_err());
    }
}
