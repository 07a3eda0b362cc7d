//! Authentication of management users, shared by every front end that authenticates (RESTCONF,
//! NETCONF over SSH, gNMI): passwords (Argon2id PHC hashes from `/system/user`), SSH public
//! keys (`authorized-key`), roles, and the failed-login throttle.
//!
//! Users live in the running configuration, so a committed change (a new user, a new password,
//! a removed key) takes effect for the next login with no restart. Argon2 is deliberately slow
//! (tens of milliseconds), so a successful verification is remembered as a salted digest of the
//! password for that exact hash; a changed hash or a wrong password always goes through Argon2.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use netloom_yang::model::{self, User};
use netloom_yang::Schema;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::api::Handle;

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Read and change everything.
    Admin,
    /// Read everything, change nothing.
    Operator,
}

/// An authenticated user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub user: String,
    pub role: Role,
}

impl Identity {
    pub fn may_write(&self) -> bool {
        self.role == Role::Admin
    }

    /// Whether secret nodes (password hashes) are shown to this user.
    pub fn reader(&self) -> crate::secrets::Reader {
        match self.role {
            Role::Admin => crate::secrets::Reader::Admin,
            Role::Operator => crate::secrets::Reader::Other,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Unknown user, wrong password or key: deliberately one answer for all three.
    #[error("authentication failed")]
    Denied,
    /// Too many failures from this peer; try again after the given time.
    #[error("too many failed logins; retry in {}s", retry_after.as_secs().max(1))]
    Throttled { retry_after: Duration },
}

/// Failures from one peer address.
#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
    blocked_until: Option<Instant>,
}

/// Failures allowed before the throttle starts, and how long a quiet peer is forgiven after.
const FREE_FAILURES: u32 = 5;
const FORGIVE_AFTER: Duration = Duration::from_secs(300);
const MAX_BLOCK: Duration = Duration::from_secs(60);

/// Hash a password as the config stores it: an Argon2id PHC string with a random salt.
pub fn hash_password(password: &str) -> Result<String, String> {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    let salt = SaltString::encode_b64(&bytes).map_err(|e| format!("making a salt: {e}"))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("hashing a password: {e}"))
}

/// Check a password against a PHC hash (Argon2 variants).
pub fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// The authenticator every front end shares.
#[derive(Debug)]
pub struct Authenticator {
    schema: Arc<Schema>,
    handle: Handle,
    failures: Mutex<HashMap<IpAddr, Failures>>,
    /// user -> (hash it was verified against, salted digest of the password).
    verified: Mutex<HashMap<String, (String, [u8; 32])>>,
    pepper: [u8; 32],
}

impl Authenticator {
    pub fn new(schema: Arc<Schema>, handle: Handle) -> Self {
        let mut pepper = [0u8; 32];
        rand::rng().fill_bytes(&mut pepper);
        Authenticator {
            schema,
            handle,
            failures: Mutex::new(HashMap::new()),
            verified: Mutex::new(HashMap::new()),
            pepper,
        }
    }

    /// The user as running configures it now.
    pub fn user(&self, name: &str) -> Option<User> {
        let list = self.schema.unit_by_names("system", "user")?;
        let key = self.schema.unit_key(list, &[name]).ok()?;
        let snaps = self.handle.snapshots();
        let text = snaps.running.units.get(&key)?;
        model::read::<User>(text).ok()
    }

    /// The role of a user that exists now (front ends re-check it per request, so a demoted
    /// or removed user loses rights at once).
    pub fn role_of(&self, name: &str) -> Option<Role> {
        self.user(name).map(|u| role(&u))
    }

    /// Fail fast when the peer is being throttled.
    pub fn check_throttle(&self, peer: IpAddr) -> Result<(), AuthError> {
        let map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(until) = map.get(&peer).and_then(|f| f.blocked_until) {
            let now = Instant::now();
            if until > now {
                return Err(AuthError::Throttled {
                    retry_after: until - now,
                });
            }
        }
        Ok(())
    }

    /// Verify a password login. Runs Argon2 on a blocking thread when it must.
    pub async fn password(
        &self,
        peer: IpAddr,
        user: &str,
        password: &str,
    ) -> Result<Identity, AuthError> {
        self.check_throttle(peer)?;
        let found = self.user(user);
        let hash = found.as_ref().and_then(|u| u.password.clone());
        let ok = match &hash {
            Some(h) if self.remembered(user, h, password) => true,
            Some(h) => {
                let (h, p) = (h.clone(), password.to_owned());
                tokio::task::spawn_blocking(move || verify_password(&h, &p))
                    .await
                    .unwrap_or(false)
            }
            None => false,
        };
        match (ok, found, hash) {
            (true, Some(u), Some(h)) => {
                self.remember(user, &h, password);
                self.succeeded(peer);
                Ok(Identity {
                    user: u.name.clone(),
                    role: role(&u),
                })
            }
            _ => Err(self.failed(peer, user, "password")),
        }
    }

    /// Verify a public-key login: `key` is the OpenSSH form (`<type> <base64> [comment]`).
    pub fn public_key(&self, peer: IpAddr, user: &str, key: &str) -> Result<Identity, AuthError> {
        self.check_throttle(peer)?;
        let wanted = key_body(key);
        let found = self
            .user(user)
            .filter(|u| wanted.is_some() && u.authorized_key.iter().any(|k| key_body(k) == wanted));
        match found {
            Some(u) => {
                self.succeeded(peer);
                Ok(Identity {
                    user: u.name.clone(),
                    role: role(&u),
                })
            }
            None => Err(self.failed(peer, user, "public key")),
        }
    }

    /// Whether a user has any authorized key (SSH servers ask before trying keys).
    pub fn has_keys(&self, user: &str) -> bool {
        self.user(user)
            .is_some_and(|u| !u.authorized_key.is_empty())
    }

    fn digest(&self, hash: &str, password: &str) -> [u8; 32] {
        let mut d = Sha256::new();
        d.update(self.pepper);
        d.update(hash.as_bytes());
        d.update([0]);
        d.update(password.as_bytes());
        d.finalize().into()
    }

    fn remembered(&self, user: &str, hash: &str, password: &str) -> bool {
        let digest = self.digest(hash, password);
        let map = self.verified.lock().unwrap_or_else(|p| p.into_inner());
        map.get(user)
            .is_some_and(|(h, d)| h == hash && *d == digest)
    }

    fn remember(&self, user: &str, hash: &str, password: &str) {
        let digest = self.digest(hash, password);
        let mut map = self.verified.lock().unwrap_or_else(|p| p.into_inner());
        map.insert(user.to_owned(), (hash.to_owned(), digest));
    }

    fn succeeded(&self, peer: IpAddr) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&peer);
    }

    fn failed(&self, peer: IpAddr, user: &str, method: &str) -> AuthError {
        let now = Instant::now();
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let f = map.entry(peer).or_insert(Failures {
            count: 0,
            last: now,
            blocked_until: None,
        });
        if now.duration_since(f.last) > FORGIVE_AFTER {
            f.count = 0;
        }
        f.count += 1;
        f.last = now;
        if f.count > FREE_FAILURES {
            let doubling = (f.count - FREE_FAILURES - 1).min(16);
            let block = Duration::from_millis(500u64 << doubling).min(MAX_BLOCK);
            f.blocked_until = Some(now + block);
        }
        tracing::warn!(%peer, user, method, failures = f.count, "failed login");
        if map.len() > 10_000 {
            map.retain(|_, f| now.duration_since(f.last) <= FORGIVE_AFTER);
        }
        AuthError::Denied
    }
}

fn role(u: &User) -> Role {
    if u.is_admin() {
        Role::Admin
    } else {
        Role::Operator
    }
}

/// `<type> <base64>` of an OpenSSH public key line, without its comment.
fn key_body(line: &str) -> Option<(String, String)> {
    let mut words = line.split_whitespace();
    let kind = words.next()?;
    let body = words.next()?;
    Some((kind.to_owned(), body.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ() {
        let a = hash_password("s3cret").unwrap();
        let b = hash_password("s3cret").unwrap();
        assert_ne!(a, b, "salts differ");
        assert!(verify_password(&a, "s3cret"));
        assert!(!verify_password(&a, "s3cre"));
        assert!(!verify_password("not a hash", "s3cret"));
    }

    #[test]
    fn key_bodies_ignore_comments() {
        assert_eq!(
            key_body("ssh-ed25519 AAAA alice@host"),
            key_body("ssh-ed25519  AAAA")
        );
        assert_ne!(key_body("ssh-ed25519 AAAA"), key_body("ssh-rsa AAAA"));
        assert_eq!(key_body("ssh-ed25519"), None);
    }
}
