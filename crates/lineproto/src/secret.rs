//! A wrapper that keeps secrets out of logs and out of memory after use.

use zeroize::Zeroize;

/// A value that must not be shown: a password, a `user:password` line.
///
/// `Debug` prints `Secret(<redacted>)` whatever is inside, so a secret can sit
/// in a struct that derives `Debug`, or in an error value, without leaking
/// into a log. On drop the value is overwritten with zeros. The only way to
/// read it is [`expose`](Self::expose), which is easy to find in review.
///
/// ```
/// use lineproto::Secret;
///
/// let password = Secret::new(String::from("hunter2"));
/// assert_eq!(format!("{password:?}"), "Secret(<redacted>)");
/// assert_eq!(password.expose(), "hunter2");
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret<T: Zeroize>(T);

impl<T: Zeroize> Secret<T> {
    /// Wraps a value.
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// Gives access to the value. Keep the borrow short.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T: Zeroize> From<T> for Secret<T> {
    fn from(value: T) -> Self {
        Self(value)
    }
}

impl<T: Zeroize> core::fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl<T: Zeroize> Drop for Secret<T> {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value_even_nested() {
        #[derive(Debug)]
        #[allow(dead_code)]
        struct Login {
            user: String,
            password: Secret<Vec<u8>>,
        }
        let login = Login {
            user: "john".into(),
            password: Secret::new(b"doe-secret".to_vec()),
        };
        let shown = format!("{login:?} {login:#?}");
        assert!(shown.contains("john"));
        assert!(!shown.contains("doe-secret"));
    }
}
