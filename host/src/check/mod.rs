//! `check`: everything `run` validates before it starts anything — config.yaml,
//! workers.json, the environment, keypairs, data files, the network grant — resolved into
//! a [`Plan`] that can be printed without a secret in it.
//!
//! Imports config, koii and plugin (for the network policy); never workers, store, runner
//! or report. Start from [`Plan::build`] and [`render`].

mod data_file;
mod plan;
mod render;

pub use data_file::{DataFileError, count_documents};
pub use plan::{CollectionPlan, KeyPlan, Plan, Rounds, WorkerPlan};
pub use render::render;
