//! Upload tickets: what lets a stateless server keep a multipart upload to
//! what it authorised. At create time the server hands out a ticket, an
//! HMAC-SHA256 (key `MULTIPART_TICKET_KEY`) over the object key, type,
//! declared size, part size and expiry; every later request carries it
//! back, and the server signs only part numbers and lengths it allows.
//!
//! The text is `1.<expiry>.<size>.<partSize>.<hex type>.<hex mac>`: URL-safe
//! and opaque to clients. The key is not in it: the request names the key,
//! and the MAC binds the ticket to that key.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// What a ticket allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    /// The object's `Content-Type`.
    pub content_type: String,
    /// The declared size of the whole object.
    pub size: u64,
    /// The size of every part but the last.
    pub part_size: u64,
    /// When the ticket stops allowing signatures, Unix seconds.
    pub expires_at: i64,
}

/// Why a ticket was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketError {
    /// Not a ticket, or not one this server made for this key.
    Invalid,
    /// Genuine, but past its expiry.
    Expired,
}

const VERSION: &str = "1";

impl Ticket {
    /// How many parts the object has.
    pub fn part_count(&self) -> u64 {
        self.size.div_ceil(self.part_size)
    }

    /// The exact length of part `number` (1-based), or `None` if the
    /// object has no such part.
    pub fn part_len(&self, number: u64) -> Option<u64> {
        if number == 0 || number > self.part_count() {
            return None;
        }
        let start = (number - 1) * self.part_size;
        Some(self.part_size.min(self.size - start))
    }

    /// The ticket's text for `object_key`, signed with `secret`.
    pub fn encode(&self, secret: &[u8], object_key: &str) -> String {
        let mac = hex::encode(self.mac(secret, object_key));
        format!(
            "{VERSION}.{}.{}.{}.{}.{mac}",
            self.expires_at,
            self.size,
            self.part_size,
            hex::encode(&self.content_type)
        )
    }

    /// Reads `text` as a ticket for `object_key`, checked against `secret`
    /// (in constant time) and then against `now` (Unix seconds).
    pub fn decode(
        text: &str,
        secret: &[u8],
        object_key: &str,
        now: i64,
    ) -> Result<Ticket, TicketError> {
        let ticket = Self::decode_unexpired(text, secret, object_key)?;
        if now >= ticket.expires_at {
            return Err(TicketError::Expired);
        }
        Ok(ticket)
    }

    /// [`Ticket::decode`] without the expiry check: for what may still be
    /// done with an old ticket (aborting its upload).
    pub fn decode_unexpired(
        text: &str,
        secret: &[u8],
        object_key: &str,
    ) -> Result<Ticket, TicketError> {
        let fields: Vec<&str> = text.split('.').collect();
        let [version, expires_at, size, part_size, content_type, mac] = fields[..] else {
            return Err(TicketError::Invalid);
        };
        let number = |s: &str| {
            // Digits only: one text per ticket (no `+1`, no spaces).
            (!s.is_empty()
                && s.len() <= 20
                && !(s.len() > 1 && s.starts_with('0'))
                && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u64>().ok())
            .flatten()
        };
        let ticket = Ticket {
            content_type: hex::decode(content_type)
                .ok()
                .and_then(|t| String::from_utf8(t).ok())
                .ok_or(TicketError::Invalid)?,
            size: number(size).ok_or(TicketError::Invalid)?,
            part_size: number(part_size).ok_or(TicketError::Invalid)?,
            expires_at: number(expires_at)
                .and_then(|e| i64::try_from(e).ok())
                .ok_or(TicketError::Invalid)?,
        };
        let mac = hex::decode(mac).map_err(|_| TicketError::Invalid)?;
        if version != VERSION || ticket.part_size == 0 {
            return Err(TicketError::Invalid);
        }
        ticket
            .hmac(secret, object_key)
            .verify_slice(&mac)
            .map_err(|_| TicketError::Invalid)?;
        Ok(ticket)
    }

    fn mac(&self, secret: &[u8], object_key: &str) -> [u8; 32] {
        self.hmac(secret, object_key).finalize().into_bytes().into()
    }

    /// The MAC over every field, each length-prefixed so no two tickets
    /// share a message.
    fn hmac(&self, secret: &[u8], object_key: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
        mac.update(b"presign multipart ticket v1\n");
        for field in [object_key.as_bytes(), self.content_type.as_bytes()] {
            mac.update(&(field.len() as u64).to_be_bytes());
            mac.update(field);
        }
        for number in [self.size, self.part_size, self.expires_at as u64] {
            mac.update(&number.to_be_bytes());
        }
        mac
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn ticket() -> Ticket {
        Ticket {
            content_type: "image/png".into(),
            size: 20 * 1024 * 1024 + 1,
            part_size: 8 * 1024 * 1024,
            expires_at: 2_000_000_000,
        }
    }

    #[test]
    fn a_ticket_reads_back_only_for_its_key_and_secret() {
        let text = ticket().encode(SECRET, "uploads/a.png");
        assert!(text.bytes().all(|b| b.is_ascii_hexdigit() || b == b'.'));
        assert_eq!(
            Ticket::decode(&text, SECRET, "uploads/a.png", 1_999_999_999),
            Ok(ticket())
        );
        assert_eq!(
            Ticket::decode(&text, SECRET, "uploads/b.png", 0),
            Err(TicketError::Invalid)
        );
        assert_eq!(
            Ticket::decode(
                &text,
                b"another secret, just as long....",
                "uploads/a.png",
                0
            ),
            Err(TicketError::Invalid)
        );
        assert_eq!(
            Ticket::decode(&text, SECRET, "uploads/a.png", 2_000_000_000),
            Err(TicketError::Expired)
        );
        // Any field changed, including to a spelling of the same number.
        let fields: Vec<&str> = text.split('.').collect();
        for (i, other) in [
            (1, "2000000001"),
            (2, "020971521"),
            (3, "8388609"),
            (4, "696d6167652f6a706567"),
        ] {
            let mut changed = fields.clone();
            changed[i] = other;
            assert_eq!(
                Ticket::decode(&changed.join("."), SECRET, "uploads/a.png", 0),
                Err(TicketError::Invalid),
                "{i}"
            );
        }
        for bad in [
            "",
            "1",
            "garbage",
            &text[..text.len() - 2],
            &format!("{text}.x"),
        ] {
            assert_eq!(
                Ticket::decode(bad, SECRET, "uploads/a.png", 0),
                Err(TicketError::Invalid)
            );
        }
    }

    #[test]
    fn parts_are_cut_by_the_part_size_with_a_short_last_one() {
        let t = ticket();
        assert_eq!(t.part_count(), 3);
        assert_eq!(t.part_len(1), Some(8 * 1024 * 1024));
        assert_eq!(t.part_len(2), Some(8 * 1024 * 1024));
        assert_eq!(t.part_len(3), Some(4 * 1024 * 1024 + 1));
        assert_eq!(t.part_len(0), None);
        assert_eq!(t.part_len(4), None);
        let exact = Ticket {
            size: 16 * 1024 * 1024,
            ..ticket()
        };
        assert_eq!(exact.part_count(), 2);
        assert_eq!(exact.part_len(2), Some(8 * 1024 * 1024));
    }
}
