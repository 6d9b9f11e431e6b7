//! The run's database: pick and open the backend, then decide between resuming and a
//! fresh, seeded start (the reference runner's semantics live in `store::mongo::seed`).

use std::sync::Arc;

use super::settings::Settings;
use crate::config::TestConfig;
use crate::error::UserError;
use crate::plugin::StepInfo;
use crate::report::TerminalReport;
use crate::runner::{self, ResumePoint, RunOptions};
use crate::store::RunState;
use crate::store::mongo::seed::{SeedError, SeedPlan};
use crate::store::mongo::{self, Backend, Database};

/// The test's database and what to seed it with.
pub(crate) struct TestDb {
    /// The backend.
    pub db: Arc<dyn Database>,
    plan: SeedPlan,
    /// Where the embedded store lives, said once the run knows it uses the store.
    embedded_note: Option<String>,
}

/// Checks every data file, then opens the backend `--mongo-uri` > `MONGO_URI` >
/// `mongodb.uri` > embedded names (announcing the embedded store). Writes nothing.
pub(crate) async fn open(
    args: &Settings,
    config: &TestConfig,
    report: &TerminalReport,
) -> Result<TestDb, UserError> {
    let plan = SeedPlan::load(config).map_err(UserError::from)?;
    let backend = Backend::select(
        args.mongo_uri.as_deref(),
        config.env.get("MONGO_URI").map(String::as_str),
        config.mongodb.uri.as_deref(),
        &config.data_dir,
    );
    let store_bytes = super::run::budgets(args, config).store_bytes;
    let db = mongo::open(&backend, &config.mongodb.database, store_bytes)
        .await
        .map_err(|e| UserError::from(SeedError::from(e)))?;
    let mut embedded_note = None;
    match &backend {
        Backend::Embedded { dir } => {
            embedded_note = Some(format!(
                "using embedded store at {}; set MONGO_URI to use a MongoDB server",
                dir.display()
            ))
        }
        Backend::Remote { source, .. } => report.note(&format!(
            "database `{}` on {} (from {source})",
            db.name(),
            db.summary()
        )),
    }
    Ok(TestDb {
        db,
        plan,
        embedded_note,
    })
}

impl TestDb {
    /// Says where the embedded store lives, when the run uses it: a package imports
    /// `prometheus:step/mongo` (`uses_mongo`) or config.yaml seeds collections. A run that
    /// never touches the store is not told about one.
    pub(crate) fn announce(&self, uses_mongo: bool, report: &TerminalReport) {
        if let Some(note) = &self.embedded_note
            && (uses_mongo || self.plan.seeds_anything())
        {
            report.note(note);
        }
    }

    async fn seed(&self, report: &TerminalReport) -> Result<(), UserError> {
        for (collection, n) in self.plan.seed(&*self.db).await.map_err(UserError::from)? {
            report.note(&format!("seeded `{collection}` with {n} document(s)"));
        }
        Ok(())
    }

    pub(crate) async fn options(&self, reset: bool) -> Result<RunOptions, UserError> {
        let max_rounds = self.plan.rounds(&*self.db).await.map_err(UserError::from)?;
        Ok(RunOptions { max_rounds, reset })
    }

    /// Whether the number of rounds is config.yaml's `max_rounds`, known before anything
    /// is seeded (not counted in `rounds_collection`).
    pub(crate) fn rounds_are_fixed(&self) -> bool {
        self.plan.rounds_from_collection().is_none()
    }

    /// Says where the number of rounds came from, once the start point is decided.
    fn announce_rounds(&self, options: &RunOptions, report: &TerminalReport) {
        if let Some(collection) = self.plan.rounds_from_collection() {
            report.note(&format!(
                "{} round(s): documents in `{collection}` + 1",
                options.max_rounds
            ));
        }
    }

    /// Where the run starts. It resumes only when a state was saved (`existing`) AND the
    /// database passes the required-state check; otherwise the collections are emptied and
    /// seeded before the rounds are counted. Seeding happens at most once, and only after
    /// every refusal that does not depend on the seeded data, right after `before_seed`
    /// (the external workers' reset hooks), whose error refuses the run before anything is
    /// seeded.
    pub(crate) async fn start(
        &self,
        existing: Option<RunState>,
        manifest: &[StepInfo],
        reset: bool,
        report: &TerminalReport,
        before_seed: impl AsyncFnOnce() -> Result<(), UserError>,
    ) -> Result<(RunState, ResumePoint, RunOptions), UserError> {
        let mut before_seed = Some(before_seed);
        let mut existing = existing;
        if existing.is_some()
            && let Some(reason) = self
                .plan
                .unmet_requirement(&*self.db)
                .await
                .map_err(UserError::from)?
        {
            report.note(&format!("starting fresh: {reason}"));
            existing = None;
        }
        let plan_error = <UserError as From<crate::runner::RunError>>::from;
        // Seeding empties the collections: first refuse what would refuse the run after
        // it, and does not depend on the seeded data (an empty manifest, duplicate step
        // names, `max_rounds: 0`, a rounds collection that seeding will not create).
        let provisional_rounds = if self.plan.rounds_from_collection().is_some() {
            self.plan
                .check_rounds_source(&*self.db)
                .await
                .map_err(UserError::from)?;
            // Seeded or not, the collection then gives documents + 1 >= 1 rounds.
            1
        } else {
            self.options(reset).await?.max_rounds
        };
        let provisional = RunOptions {
            max_rounds: provisional_rounds,
            reset: true,
        };
        runner::plan_start(None, manifest, &provisional).map_err(plan_error)?;
        let seeded = existing.is_none();
        if seeded {
            if let Some(hook) = before_seed.take() {
                hook().await?;
            }
            self.seed(report).await?;
        }
        let options = self.options(reset).await?;
        let (state, resume) =
            runner::plan_start(existing, manifest, &options).map_err(plan_error)?;
        let reason = match resume {
            ResumePoint::Fresh { reason } if !seeded => reason,
            resume => {
                self.announce_rounds(&options, report);
                return Ok((state, resume, options));
            }
        };
        // The saved run was complete: start over from freshly seeded data, keeping the
        // reason for the report.
        if let Some(hook) = before_seed.take() {
            hook().await?;
        }
        self.seed(report).await?;
        let options = self.options(reset).await?;
        self.announce_rounds(&options, report);
        let (state, _) = runner::plan_start(None, manifest, &options).map_err(plan_error)?;
        Ok((state, ResumePoint::Fresh { reason }, options))
    }
}
