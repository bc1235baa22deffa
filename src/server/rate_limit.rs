//! A token bucket per client address, for the API's `POST`s (one token per
//! request, a batch included) and for failed `API_TOKEN` attempts.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The most clients tracked. Past it, full (idle) buckets are forgotten;
/// if that is not enough, the least recently seen half is, so memory stays
/// bounded whatever the number of distinct addresses.
const MAX_TRACKED: usize = 10_000;

/// The address a client is counted under: IPv4 as it is, IPv6 by its /64,
/// the block one host usually owns whole (rotating within it is free).
/// IPv4-mapped IPv6 addresses count as their IPv4 address.
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        },
    }
}

/// Per-address token buckets: `per_minute` tokens, refilled continuously.
#[derive(Debug)]
pub struct RateLimiter {
    per_minute: u32,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl RateLimiter {
    /// A limiter allowing `per_minute` requests per minute per address; 0 = off.
    pub fn new(per_minute: u32) -> Self {
        RateLimiter {
            per_minute,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token for `ip` at `now`, or says how long until one is free.
    pub fn check(&self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        self.update(ip, now, true)
    }

    /// Whether `ip` has a token left at `now`, without taking it.
    pub fn peek(&self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        self.update(ip, now, false)
    }

    fn update(&self, ip: IpAddr, now: Instant, take: bool) -> Result<(), Duration> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let capacity = f64::from(self.per_minute);
        let per_second = capacity / 60.0;
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let key = client_key(ip);
        if buckets.len() >= MAX_TRACKED && !buckets.contains_key(&key) {
            forget_some(&mut buckets, now, capacity, per_second);
        }
        let (tokens, at) = buckets.entry(key).or_insert((capacity, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * per_second).min(capacity);
        *at = now;
        if *tokens >= 1.0 {
            if take {
                *tokens -= 1.0;
            }
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) / per_second))
        }
    }
}

/// Drops the buckets that have refilled; if over half the cap remains,
/// keeps only the more recently seen half. Runs at most once per
/// `MAX_TRACKED / 2` new addresses, so its cost is constant per request.
fn forget_some(
    buckets: &mut HashMap<IpAddr, (f64, Instant)>,
    now: Instant,
    capacity: f64,
    per_second: f64,
) {
    buckets.retain(|_, (tokens, at)| {
        *tokens + now.duration_since(*at).as_secs_f64() * per_second < capacity
    });
    if buckets.len() >= MAX_TRACKED / 2 {
        let mut seen: Vec<Instant> = buckets.values().map(|(_, at)| *at).collect();
        let middle = seen.len() / 2;
        let (_, cutoff, _) = seen.select_nth_unstable(middle);
        let cutoff = *cutoff;
        buckets.retain(|_, (_, at)| *at > cutoff);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_a_burst_then_refills() {
        let limiter = RateLimiter::new(60);
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let other: IpAddr = "127.0.0.2".parse().unwrap();
        let t = Instant::now();
        for _ in 0..60 {
            assert!(limiter.check(ip, t).is_ok());
        }
        let wait = limiter.check(ip, t).unwrap_err();
        assert!(wait <= Duration::from_secs(1) && wait > Duration::ZERO);
        assert!(limiter.check(other, t).is_ok());
        assert!(limiter.check(ip, t + Duration::from_secs(1)).is_ok());
    }

    #[test]
    fn zero_turns_it_off() {
        let limiter = RateLimiter::new(0);
        let ip: IpAddr = "::1".parse().unwrap();
        for _ in 0..1000 {
            assert!(limiter.check(ip, Instant::now()).is_ok());
        }
    }

    #[test]
    fn peek_takes_nothing() {
        let limiter = RateLimiter::new(1);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let t = Instant::now();
        for _ in 0..5 {
            assert!(limiter.peek(ip, t).is_ok());
        }
        assert!(limiter.check(ip, t).is_ok());
        assert!(limiter.peek(ip, t).is_err());
    }

    #[test]
    fn ipv6_is_limited_per_64() {
        let limiter = RateLimiter::new(2);
        let t = Instant::now();
        for i in 0..2u16 {
            let ip = IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 0, i, 1, 2, 3));
            assert!(limiter.check(ip, t).is_ok());
        }
        let rotated: IpAddr = "2001:db8::abcd:1".parse().unwrap();
        assert!(limiter.check(rotated, t).is_err(), "same /64");
        assert!(limiter.check("2001:db8:0:1::1".parse().unwrap(), t).is_ok());
        assert_eq!(
            client_key("::ffff:10.1.2.3".parse().unwrap()),
            "10.1.2.3".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn the_map_stays_bounded_when_every_client_is_mid_bucket() {
        let limiter = RateLimiter::new(60);
        let t = Instant::now();
        for i in 0..(3 * MAX_TRACKED as u32) {
            let ip = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            // Each client spends a token, so no bucket is full (idle).
            assert!(limiter
                .check(ip, t + Duration::from_micros(u64::from(i)))
                .is_ok());
            assert!(limiter.buckets.lock().unwrap().len() <= MAX_TRACKED);
        }
        // The most recent client is still remembered.
        let last = IpAddr::V4(std::net::Ipv4Addr::from(
            0x0a00_0000 + 3 * MAX_TRACKED as u32 - 1,
        ));
        assert!(limiter.buckets.lock().unwrap().contains_key(&last));
    }
}
