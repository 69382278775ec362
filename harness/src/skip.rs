//! Skipping a test at run time, with its reason printed where a human and a
//! CI summary find it. libtest has no run-time skip, so a skipped test
//! passes; the printed marker line is what `cargo xtask ci-summary` turns
//! into a skipped test case in the JUnit report and the job summary.
//! Where the need is known at compile time, prefer
//! `#[ignore = "needs cluster (…)"]`.

/// Starts every skip line; `cargo xtask ci-summary` looks for it.
pub const SKIP_MARKER: &str = "kube-harness: SKIPPED:";

/// What a skipped test returns: `()` or `Ok(())`.
pub trait Skipped {
    /// The value that ends the test as passed.
    fn skipped() -> Self;
}

impl Skipped for () {
    fn skipped() -> Self {}
}

impl<E> Skipped for Result<(), E> {
    fn skipped() -> Self {
        Ok(())
    }
}

/// Prints the skip line for the running test.
pub fn announce(reason: &str) {
    let test = std::thread::current()
        .name()
        .filter(|n| *n != "main")
        .unwrap_or("this test")
        .to_string();
    // stdout, where libtest and nextest capture a test's output (and the
    // JUnit report keeps it).
    println!("{SKIP_MARKER} {test}: {reason}");
}

/// Ends the running test early as skipped, printing why:
///
/// ```
/// # use kube_harness::skip;
/// fn needs_a_real_kubelet(real: bool) -> Result<(), String> {
///     if !real {
///         skip!("needs a real kubelet (HARNESS_CLUSTER=existing)");
///     }
///     Ok(())
/// }
/// assert_eq!(needs_a_real_kubelet(false), Ok(()));
/// ```
#[macro_export]
macro_rules! skip {
    ($($reason:tt)+) => {{
        $crate::skip::announce(&format!($($reason)+));
        return $crate::skip::Skipped::skipped();
    }};
}
