//! Reports made from the figures (never from per-request records): a
//! [`model::Report`] gathered from the state, rendered as a self-contained
//! HTML page with inline SVG charts ([`html`], [`svg`]), JSON (the model
//! itself), XML ([`xml`]), CSV ([`csv`]) and JUnit XML ([`junit`]);
//! [`files`] writes them where the server's path rule allows.
//! The `LD_generate_*` actions are in `actions::reports`.

pub mod csv;
pub mod files;
pub mod html;
pub mod junit;
pub mod model;
pub mod svg;
pub mod xml;

pub use model::Report;
