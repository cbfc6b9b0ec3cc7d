//! E-mail over SMTP with `lettre`: `smtp://host:port` (plain, e.g. a local
//! relay), `smtp://host:587?tls=required` (STARTTLS), `smtps://host:465`
//! (TLS from the start), with `user:password@` for AUTH. TLS is rustls with
//! the web PKI roots. Each message is plain text and HTML, with the
//! calendar document attached when there is one.

use std::time::Duration;

use futures_util::future::BoxFuture;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::{Delivered, Outgoing, SendError, Sender};
use crate::domain::notifications::{Channel, Failure};

pub struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    timeout: Duration,
}

impl Smtp {
    /// A transport for `url` (checked here, so a bad URL stops start-up)
    /// sending as `from` (`Name <address>` or a bare address).
    pub fn new(url: &str, from: &str, timeout: Duration) -> Result<Self, String> {
        let from: Mailbox = from.parse().map_err(|_| {
            "NOTIFY_FROM: expected an address such as Clinic <bookings@clinic.example>".to_owned()
        })?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| format!("SMTP_URL: {e}"))?
            .timeout(Some(timeout))
            .build();
        Ok(Self {
            transport,
            from,
            timeout,
        })
    }

    fn build(&self, m: &Outgoing) -> Result<Message, SendError> {
        let to_address =
            m.to.parse()
                .map_err(|_| SendError::new(Failure::Invalid, "invalid e-mail address"))?;
        let name = (!m.to_name.trim().is_empty()).then(|| m.to_name.clone());
        let domain = self.from.email.domain().to_owned();
        let alternative = MultiPart::alternative_plain_html(m.text.clone(), m.html.clone());
        let body = match &m.calendar {
            None => alternative,
            Some(cal) => {
                let content_type = ContentType::parse(&cal.content_type)
                    .map_err(|_| SendError::new(Failure::Invalid, "bad calendar media type"))?;
                MultiPart::mixed().multipart(alternative).singlepart(
                    Attachment::new("invite.ics".to_owned()).body(cal.body.clone(), content_type),
                )
            }
        };
        Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(name, to_address))
            .subject(m.subject.clone())
            .message_id(Some(format!("<{}@{domain}>", m.message_key)))
            .multipart(body)
            .map_err(|_| SendError::new(Failure::Invalid, "the message could not be built"))
    }
}

/// An SMTP failure as a retry decision, with only the reply code.
fn classify(e: &lettre::transport::smtp::Error) -> SendError {
    if let Some(code) = e.status() {
        let failure = if e.is_permanent() {
            Failure::Refused
        } else {
            Failure::Transient
        };
        return SendError::new(failure, format!("SMTP {code}"));
    }
    let detail = if e.is_timeout() {
        "timed out"
    } else if e.is_tls() {
        "TLS failed"
    } else {
        "could not connect or talk to the SMTP server"
    };
    SendError::new(Failure::Transient, detail)
}

impl Sender for Smtp {
    fn channel(&self) -> Channel {
        Channel::Email
    }

    fn send<'a>(&'a self, m: &'a Outgoing) -> BoxFuture<'a, Result<Delivered, SendError>> {
        Box::pin(async move {
            let message = self.build(m)?;
            let sent = tokio::time::timeout(self.timeout, self.transport.send(message)).await;
            match sent {
                Err(_) => Err(SendError::new(Failure::Transient, "timed out")),
                Ok(Err(e)) => Err(classify(&e)),
                Ok(Ok(response)) => Ok(Delivered {
                    // The server's queue id, when it gives one ("250 2.0.0 Ok: queued as X").
                    provider_message_id: response
                        .message()
                        .last()
                        .and_then(|l| l.rsplit_once("queued as "))
                        .map(|(_, id)| id.trim().chars().take(100).collect()),
                }),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_url_form_builds_a_transport() {
        let t = Duration::from_secs(5);
        for url in [
            "smtp://127.0.0.1:2525",
            "smtp://user:pass@mail.example:587?tls=required",
            "smtp://mail.example?tls=opportunistic",
            "smtps://user:p%40ss@mail.example",
        ] {
            assert!(
                Smtp::new(url, "JB Cosmetic <bookings@jb.example>", t).is_ok(),
                "{url}"
            );
        }
        assert!(Smtp::new("smtp://127.0.0.1:2525", "not an address", t).is_err());
        assert!(Smtp::new("smtp://127.0.0.1:2525?tls=sometimes", "a@b.example", t).is_err());
    }

    #[test]
    fn an_invalid_recipient_is_given_up_at_once() {
        let smtp = Smtp::new(
            "smtp://127.0.0.1:2525",
            "a@b.example",
            Duration::from_secs(5),
        )
        .unwrap();
        let m = Outgoing {
            to: "not an address".into(),
            to_name: String::new(),
            subject: "s".into(),
            text: "t".into(),
            html: "h".into(),
            calendar: None,
            message_key: "k".into(),
        };
        let err = smtp.build(&m).unwrap_err();
        assert_eq!(err.failure, Failure::Invalid);
        assert!(!err.detail.contains("not an address"));
    }
}
