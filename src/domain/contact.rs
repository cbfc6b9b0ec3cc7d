//! Contact details in canonical forms, for counting one person's unpaid
//! holds however they format their email or phone number, and for telling
//! one client's identity from another's.

/// The form an email is counted in: lower case, without a `+tag`, without
/// dots in the local part, and `googlemail.com` as `gmail.com`. (For the
/// holds cap only: addresses are stored and used as given.)
pub fn email_key(email: &str) -> String {
    let email = email.trim().to_lowercase();
    let Some((local, domain)) = email.rsplit_once('@') else {
        return email;
    };
    let local = local.split('+').next().unwrap_or(local).replace('.', "");
    let domain = match domain {
        "googlemail.com" => "gmail.com",
        d => d,
    };
    format!("{local}@{domain}")
}

/// A phone number in E.164 form (`+447700900123`): spaces, dashes, dots and
/// brackets dropped, `00` read as `+`, a national number (leading `0`)
/// given `default_country_code`, and a national trunk `(0)` after a
/// country code dropped. Whatever is not a number stays as its digits.
pub fn phone_key(phone: &str, default_country_code: &str) -> String {
    let trimmed = phone.trim();
    // "+44 (0)7700 900123": the (0) is the trunk prefix, not part of the number.
    let without_trunk = trimmed.replace("(0)", "");
    let mut digits: String = without_trunk
        .chars()
        .filter(|c| c.is_ascii_digit())
        .collect();
    let international = without_trunk.trim_start().starts_with('+');
    if international {
        return format!("+{digits}");
    }
    if let Some(rest) = digits.strip_prefix("00") {
        return format!("+{rest}");
    }
    if let Some(rest) = digits.strip_prefix('0') {
        digits = format!("{default_country_code}{rest}");
        return format!("+{digits}");
    }
    format!("+{digits}")
}

/// A client's identity as bookings name it: the email, the date of birth
/// and the name, each in a canonical form. Two bookings with the same
/// email but another name or date of birth are two people.
pub fn identity(email: &str, date_of_birth: chrono::NaiveDate, full_name: &str) -> String {
    let name: Vec<String> = full_name
        .split_whitespace()
        .map(str::to_lowercase)
        .collect();
    format!(
        "{}\n{}\n{}",
        email.trim().to_lowercase(),
        date_of_birth,
        name.join(" ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_phone_number_however_written() {
        for written in [
            "+447700900123",
            "07700 900123",
            "+44 (7700) 900123",
            "+44 (0)7700 900-123",
            "0044 7700 900123",
            "(07700) 900.123",
        ] {
            assert_eq!(phone_key(written, "44"), "+447700900123", "{written}");
        }
        assert_eq!(phone_key("+1 415 555 0100", "44"), "+14155550100");
    }

    #[test]
    fn one_email_however_written() {
        for written in [
            "alex.morgan@gmail.com",
            "Alex.Morgan+clinic@gmail.com",
            "alexmorgan@googlemail.com",
            " ALEXMORGAN@GMAIL.COM ",
            "a.l.e.x.m.o.r.g.a.n+1+2@gmail.com",
        ] {
            assert_eq!(email_key(written), "alexmorgan@gmail.com", "{written}");
        }
        assert_ne!(email_key("alex@example.com"), email_key("sam@example.com"));
    }

    #[test]
    fn identities_differ_by_name_or_birth_date() {
        let dob = chrono::NaiveDate::from_ymd_opt(1990, 4, 12).unwrap();
        let other = chrono::NaiveDate::from_ymd_opt(1991, 4, 12).unwrap();
        let a = identity("Alex@Example.com", dob, " Alex  Morgan ");
        assert_eq!(a, identity("alex@example.com", dob, "alex morgan"));
        assert_ne!(a, identity("alex@example.com", dob, "Mallory"));
        assert_ne!(a, identity("alex@example.com", other, "Alex Morgan"));
    }
}
