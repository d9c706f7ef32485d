//! Black-box tests of the whole system; the fake networks live in `socialcrm-fakes`.

pub use socialcrm_fakes as fake;
