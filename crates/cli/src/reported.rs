//! A failure a command has already put in its own output.

/// A failure already shown in the command's output (a JSON summary, a table of results):
/// `main` sets the exit status and says it on stderr, but prints no JSON error object of
/// its own after output a reader is parsing.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Reported(pub String);

/// Fails with [`Reported`] unless `ok`.
pub fn ensure(ok: bool, why: impl FnOnce() -> String) -> anyhow::Result<()> {
    if ok {
        Ok(())
    } else {
        Err(Reported(why()).into())
    }
}
