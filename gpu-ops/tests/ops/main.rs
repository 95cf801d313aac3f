//! tarn-gpu's tests, one binary: the operators against the upstream fixtures, and the fast
//! paths against the references on random shapes.

mod fixtures;
mod properties;
mod support;
