//! tarn-gpu's tests, one binary: the operators against the upstream fixtures, the fast paths
//! against the references on random shapes, and MiniLM against sentence-transformers.

mod fixtures;
mod minilm;
mod properties;
mod support;
