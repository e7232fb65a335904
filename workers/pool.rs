//! The worker pool: claims jobs from the queue and runs their handlers, with leases kept alive by a
//! heartbeat, a deadline per job kind, durable retries, and a graceful drain on shutdown.
//!
//! Why our own small loop and not apalis' runtime: our storage hands out *batches* of jobs, each with
//! its own fencing token, and acknowledges them in batches fenced by those tokens; heartbeats extend
//! many leases in one statement and report which were lost, so the matching handlers stop. apalis
//! drives a backend as a stream of single tasks acknowledged one by one without a token, with its own
//! retry layer (immediate, no backoff) — expressing leases, fencing and batched acks through it would
//! bend the queue. docs/architecture.md ("Queue") has the longer version.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::PgPool;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;

use crate::metrics::{self, Outcome};
use crate::queue::wake::{self, Listener};
use crate::queue::{self, Backoff, ClaimedJob, JobId, Lease, Reschedule};
use crate::supervisor::{WorkerPulse, panic_message};

/// The future a handler returns.
pub type JobFuture = Pin<Box<dyn Future<Output = Result<(), JobError>> + Send + 'static>>;

/// Runs jobs of one kind.
pub trait Handler: Send + Sync + 'static {
    fn kind(&self) -> &'static str;

    /// How long one attempt may take before it is cancelled and counted as failed. Must be shorter
    /// than the lease, so a job is never run twice at once because its lease ran out mid-attempt.
    fn deadline(&self) -> Duration {
        Duration::from_secs(20)
    }

    fn run(&self, job: JobContext) -> JobFuture;

    /// Called once when the job goes dead (fatal error or attempts used up), with its lease still
    /// held, so the stage can leave its data in a sensible state. Errors are logged; the job is dead
    /// either way.
    fn on_dead(&self, job: JobContext, error: String) -> JobFuture {
        let _ = (job, error);
        Box::pin(async { Ok(()) })
    }
}

/// What a handler gets: the job, the database, and the lease that fences its writes.
#[derive(Clone)]
pub struct JobContext {
    /// Shared with the pool, which keeps it to record the outcome: no copy of the payload per job.
    pub job: Arc<ClaimedJob>,
    pub db: PgPool,
}

impl JobContext {
    pub fn lease(&self) -> Lease {
        Lease::from(&*self.job)
    }
}

/// Why an attempt did not complete.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Worth another attempt (after backoff, or after the server's `retry-after`).
    #[error("{error:#}")]
    Retry {
        error: anyhow::Error,
        after: Option<Duration>,
    },
    /// Not a failure: run again after `after` without using up an attempt.
    #[error("deferred for {after:?}: {reason}")]
    Defer { after: Duration, reason: String },
    /// Will never succeed: the job goes dead at once.
    #[error("{0:#}")]
    Fatal(anyhow::Error),
}

impl JobError {
    pub fn retry(error: impl Into<anyhow::Error>) -> Self {
        Self::Retry {
            error: error.into(),
            after: None,
        }
    }

    pub fn retry_after(error: impl Into<anyhow::Error>, after: Duration) -> Self {
        Self::Retry {
            error: error.into(),
            after: Some(after),
        }
    }

    pub fn defer(after: Duration, reason: impl Into<String>) -> Self {
        Self::Defer {
            after,
            reason: reason.into(),
        }
    }

    pub fn fatal(error: impl Into<anyhow::Error>) -> Self {
        Self::Fatal(error.into())
    }
}

impl From<sqlx::Error> for JobError {
    /// Database errors are transient as far as a job can tell.
    fn from(err: sqlx::Error) -> Self {
        Self::retry(err)
    }
}

impl From<crate::db::FencedError> for JobError {
    /// A lost lease is retried like a database error: the job's new holder does the work.
    fn from(err: crate::db::FencedError) -> Self {
        Self::retry(err)
    }
}

/// The handlers this pool runs, by kind.
#[derive(Default, Clone)]
pub struct Registry {
    handlers: HashMap<&'static str, Arc<dyn Handler>>,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with(mut self, handler: impl Handler) -> Self {
        self.handlers.insert(handler.kind(), Arc::new(handler));
        self
    }

    /// The job kinds this registry handles, sorted.
    pub fn kinds(&self) -> Vec<String> {
        let mut kinds: Vec<String> = self.handlers.keys().map(|k| k.to_string()).collect();
        kinds.sort();
        kinds
    }
}

#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// Jobs run at once by this pool.
    pub concurrency: usize,
    /// Most jobs claimed per statement.
    pub batch_size: usize,
    /// Jobs taken from every tenant with due work before the FIFO fill (fairness).
    pub per_tenant: usize,
    pub lease: Duration,
    /// Safety-net poll when no notification arrives.
    pub poll_interval: Duration,
    pub backoff: Backoff,
    /// On shutdown, how long in-flight jobs get to finish before their leases are released.
    pub grace: Duration,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            concurrency: 32,
            batch_size: 32,
            per_tenant: 2,
            lease: Duration::from_secs(30),
            poll_interval: Duration::from_secs(1),
            backoff: Backoff::default(),
            grace: Duration::from_secs(25),
        }
    }
}

/// What `run_once` did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RunReport {
    pub completed: usize,
    pub retried: usize,
    pub deferred: usize,
    pub dead: usize,
    pub lease_lost: usize,
}

impl RunReport {
    pub fn attempts(&self) -> usize {
        self.completed + self.retried + self.deferred + self.dead + self.lease_lost
    }
}

/// How one attempt ended, as seen by the pool.
enum Ending {
    Done(Result<(), JobError>),
    /// The handler panicked: a failed attempt like any other (retried, then dead), never the end
    /// of the pool.
    Panicked(String),
    DeadlineExceeded(Duration),
    LeaseLost,
}

struct Finished {
    job: Arc<ClaimedJob>,
    ending: Ending,
    elapsed: Duration,
}

type InFlight = Arc<Mutex<HashMap<JobId, (Lease, CancellationToken)>>>;

pub struct WorkerPool {
    db: PgPool,
    registry: Arc<Registry>,
    kinds: Vec<String>,
    config: PoolConfig,
    pulse: WorkerPulse,
}

impl WorkerPool {
    pub fn new(db: PgPool, registry: Registry, config: PoolConfig) -> Self {
        for handler in registry.handlers.values() {
            assert!(
                handler.deadline() < config.lease,
                "the deadline of `{}` must be shorter than the lease",
                handler.kind()
            );
        }
        Self {
            db,
            kinds: registry.kinds(),
            registry: Arc::new(registry),
            config,
            pulse: WorkerPulse::default(),
        }
    }

    /// Beats on every turn of [`run`](Self::run)'s claim loop; silent once it stops.
    pub fn pulse(&self) -> WorkerPulse {
        self.pulse.clone()
    }

    /// Processes what is runnable now — including jobs promoted as earlier ones of their key finish —
    /// and returns when nothing is (tests drive workers with this instead of sleeping).
    pub async fn run_once(&self) -> anyhow::Result<RunReport> {
        let mut report = RunReport::default();
        let in_flight = InFlight::default();
        loop {
            let claimed = self.claim(self.config.concurrency).await?;
            if claimed.is_empty() {
                return Ok(report);
            }
            let mut tasks = JoinSet::new();
            self.spawn_all(&mut tasks, &in_flight, claimed);
            let mut finished = Vec::new();
            while let Some(result) = tasks.join_next().await {
                finished.extend(joined(result));
            }
            self.settle(&in_flight, finished, &mut report).await?;
        }
    }

    /// Runs until `shutdown` is cancelled, then drains: no new claims, in-flight jobs get the grace
    /// period, and the leases of any still running are released so they are picked up at once.
    ///
    /// Outcomes are recorded by a settler running beside the claim loop, so the next claim does not
    /// wait for the previous batch's ack: each pool keeps a claim and an ack in flight at once, and
    /// the settler acks whatever finished while its last ack ran (one statement for many jobs).
    /// Order per key is unaffected: the next job of a key becomes claimable only when its
    /// predecessor's ack commits.
    pub async fn run(&self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let mut listener = Listener::connect(&self.db).await;
        let in_flight = InFlight::default();
        // Without it leases run out under running jobs and they run twice: the pool stops with it.
        let mut heartbeat = tokio::spawn(heartbeat_loop(
            self.db.clone(),
            in_flight.clone(),
            self.config.lease,
        ));
        let heartbeat_stopped = CancellationToken::new();
        let pulse = self.pulse.clone();
        let heartbeat_task = &mut heartbeat;
        // Bounded, so a settler that cannot keep up slows the claims down.
        let (finished_tx, finished_rx) = mpsc::channel::<Finished>(self.config.concurrency);
        let in_flight = &in_flight;
        let claiming = async move {
            let mut tasks: JoinSet<Finished> = JoinSet::new();
            let mut parked = false;
            let result = async {
                loop {
                    pulse.beat();
                    if shutdown.is_cancelled() {
                        break;
                    }
                    if heartbeat_stopped.is_cancelled() {
                        anyhow::bail!("the lease heartbeat stopped");
                    }
                    let free = self.config.concurrency.saturating_sub(tasks.len());
                    let mut starved = false;
                    if free > 0 {
                        let want = free.min(self.config.batch_size);
                        match self.claim(want).await {
                            Ok(claimed) => {
                                starved = claimed.len() < want;
                                self.spawn_all(&mut tasks, in_flight, claimed);
                            }
                            Err(err) => {
                                tracing::error!(error = %err, "claim failed; retrying after the poll interval");
                                starved = true;
                            }
                        }
                    }
                    if starved && !parked {
                        // Count ourselves parked, then claim once more before waiting: a producer
                        // that committed before the count was visible is caught by that claim.
                        parked = wake::park(&self.db).await.is_ok();
                        continue;
                    }
                    if !starved && parked {
                        parked = wake::unpark(&self.db).await.is_err();
                    }
                    // With room left and work still coming, claim again at once; otherwise wait for
                    // a job to finish, or (with room for more) a wake-up, or shutdown.
                    let finished = if !starved && tasks.len() < self.config.concurrency {
                        None
                    } else {
                        tokio::select! {
                            () = shutdown.cancelled() => None,
                            Some(done) = tasks.join_next(), if !tasks.is_empty() => Some(done),
                            _ = listener.wait(self.config.poll_interval), if starved => None,
                            ended = &mut *heartbeat_task, if !heartbeat_stopped.is_cancelled() => {
                                tracing::error!(?ended, "the lease heartbeat stopped");
                                heartbeat_stopped.cancel();
                                None
                            }
                        }
                    };
                    for done in finished.into_iter().flat_map(joined) {
                        send(&finished_tx, done).await;
                    }
                    while let Some(done) = tasks.try_join_next() {
                        if let Some(done) = joined(done) {
                            send(&finished_tx, done).await;
                        }
                    }
                }
                anyhow::Ok(())
            }
            .await;
            if parked {
                let _ = wake::unpark(&self.db).await;
            }
            for done in self.finish_in_flight(tasks).await {
                send(&finished_tx, done).await;
            }
            result
        };
        let settling = async {
            let mut finished_rx = finished_rx;
            let mut report = RunReport::default();
            let mut batch = Vec::new();
            while finished_rx
                .recv_many(&mut batch, self.config.concurrency)
                .await
                > 0
            {
                if let Err(err) = self
                    .settle(in_flight, std::mem::take(&mut batch), &mut report)
                    .await
                {
                    tracing::error!(error = ?err, "could not record job outcomes; their leases will expire and they will run again");
                }
            }
        };
        let (result, ()) = tokio::join!(claiming, settling);
        // Whatever is still in flight was stopped at the end of the grace period: hand it back now
        // rather than after its lease expires.
        self.release_leftovers(in_flight).await;
        heartbeat.abort();
        self.pulse.stop();
        result
    }

    /// On shutdown: gives in-flight jobs the grace period, then stops the rest (their leases are
    /// released by the caller).
    async fn finish_in_flight(&self, mut tasks: JoinSet<Finished>) -> Vec<Finished> {
        let mut finished = Vec::new();
        if tasks.is_empty() {
            return finished;
        }
        tracing::info!(in_flight = tasks.len(), grace = ?self.config.grace, "draining in-flight jobs");
        let deadline = tokio::time::Instant::now() + self.config.grace;
        while !tasks.is_empty() {
            match tokio::time::timeout_at(deadline, tasks.join_next()).await {
                Ok(Some(done)) => finished.extend(joined(done)),
                Ok(None) | Err(_) => break,
            }
        }
        tasks.abort_all();
        finished
    }

    async fn release_leftovers(&self, in_flight: &InFlight) {
        let leftovers: Vec<Lease> = in_flight
            .lock()
            .expect("in-flight map")
            .drain()
            .map(|(_, (lease, _))| lease)
            .collect();
        for lease in leftovers {
            match queue::reschedule(&self.db, lease, Reschedule::Release, None).await {
                Ok(_) => tracing::info!(job_id = %lease.id, "released unfinished job"),
                Err(err) => {
                    tracing::error!(job_id = %lease.id, error = %err, "could not release job; its lease will expire")
                }
            }
        }
    }

    async fn claim(&self, want: usize) -> Result<Vec<ClaimedJob>, sqlx::Error> {
        queue::claim(
            &self.db,
            &self.kinds,
            want as i64,
            self.config.per_tenant as i64,
            self.config.lease,
        )
        .await
    }

    fn spawn_all(
        &self,
        tasks: &mut JoinSet<Finished>,
        in_flight: &InFlight,
        jobs: Vec<ClaimedJob>,
    ) {
        if jobs.is_empty() {
            return;
        }
        let mut cancels = Vec::with_capacity(jobs.len());
        {
            let mut map = in_flight.lock().expect("in-flight map");
            for job in &jobs {
                let lease_lost = CancellationToken::new();
                map.insert(job.id, (Lease::from(job), lease_lost.clone()));
                cancels.push(lease_lost);
            }
            metrics::active_leases(map.len());
        }
        for (job, lease_lost) in jobs.into_iter().zip(cancels) {
            self.spawn(tasks, job, lease_lost);
        }
    }

    fn spawn(&self, tasks: &mut JoinSet<Finished>, job: ClaimedJob, lease_lost: CancellationToken) {
        let job = Arc::new(job);
        let handler = self
            .registry
            .handlers
            .get(job.kind.as_str())
            .cloned()
            .expect("claimed only kinds we handle");
        let ctx = JobContext {
            job: job.clone(),
            db: self.db.clone(),
        };
        let span = tracing::info_span!("job", job_id = %job.id, kind = %job.kind, attempt = job.attempts,
            tenant_id = job.tenant_id.map(|t| t.to_string()).unwrap_or_default());
        tasks.spawn(tracing::Instrument::instrument(
            async move {
                let started = Instant::now();
                let deadline = handler.deadline();
                let ending = if job.attempts > job.max_attempts {
                    // Reclaimed after its lease expired on the last attempt: this job keeps taking its
                    // worker down (or hangs past the lease); do not run it again.
                    Ending::Done(Err(JobError::fatal(anyhow::anyhow!(
                        "lease expired on the last attempt ({} of {})",
                        job.max_attempts,
                        job.max_attempts
                    ))))
                } else {
                    // The handler's own call too is inside the caught future: a panic anywhere in
                    // it fails this attempt, not the pool.
                    let attempt = AssertUnwindSafe(async move { handler.run(ctx).await });
                    tokio::select! {
                        result = attempt.catch_unwind() => match result {
                            Ok(result) => Ending::Done(result),
                            Err(panic) => Ending::Panicked(panic_message(panic.as_ref())),
                        },
                        () = lease_lost.cancelled() => Ending::LeaseLost,
                        () = tokio::time::sleep(deadline) => Ending::DeadlineExceeded(deadline),
                    }
                };
                Finished {
                    job,
                    ending,
                    elapsed: started.elapsed(),
                }
            },
            span,
        ));
    }

    /// Records outcomes: completions in one fenced batch, failures one by one.
    async fn settle(
        &self,
        in_flight: &InFlight,
        finished: Vec<Finished>,
        report: &mut RunReport,
    ) -> Result<(), sqlx::Error> {
        {
            let mut map = in_flight.lock().expect("in-flight map");
            for f in &finished {
                map.remove(&f.job.id);
            }
            metrics::active_leases(map.len());
        }
        let mut completed = Vec::new();
        let mut buried = Vec::new();
        for f in finished {
            let lease = Lease::from(&*f.job);
            let kind = f.job.kind.as_str();
            let outcome = match f.ending {
                Ending::Done(Ok(())) => {
                    completed.push((lease, f.job.kind.clone(), f.elapsed));
                    continue;
                }
                Ending::LeaseLost => {
                    tracing::warn!(job_id = %f.job.id, kind, "lease lost: another worker owns this job now");
                    report.lease_lost += 1;
                    Outcome::LeaseLost
                }
                Ending::Panicked(message) => {
                    tracing::error!(job_id = %f.job.id, kind, attempt = f.job.attempts,
                        tenant_id = f.job.tenant_id.map(|t| t.to_string()).unwrap_or_default(),
                        panic = %message, "job handler panicked");
                    metrics::job_panicked(kind);
                    let error = JobError::retry(anyhow::anyhow!("handler panicked: {message}"));
                    self.fail(&f.job, error, &mut buried, report).await?
                }
                Ending::DeadlineExceeded(deadline) => {
                    let error =
                        JobError::retry(anyhow::anyhow!("deadline of {deadline:?} exceeded"));
                    self.fail(&f.job, error, &mut buried, report).await?
                }
                Ending::Done(Err(error)) => self.fail(&f.job, error, &mut buried, report).await?,
            };
            metrics::job_finished(kind, outcome, f.elapsed);
        }
        if !completed.is_empty() {
            let leases: Vec<Lease> = completed.iter().map(|(l, _, _)| *l).collect();
            let done: HashSet<JobId> = queue::complete(&self.db, &leases)
                .await?
                .into_iter()
                .collect();
            for (lease, kind, elapsed) in &completed {
                if done.contains(&lease.id) {
                    report.completed += 1;
                    metrics::job_finished(kind, Outcome::Completed, *elapsed);
                } else {
                    report.lease_lost += 1;
                    metrics::job_finished(kind, Outcome::LeaseLost, *elapsed);
                    tracing::warn!(job_id = %lease.id, kind, "finished after its lease was lost; result not recorded");
                }
            }
        }
        if !buried.is_empty() {
            queue::bury(&self.db, &buried).await?;
        }
        Ok(())
    }

    /// Decides what a failed attempt means: retry (durably, after backoff or the server's
    /// retry-after), defer, or dead.
    async fn fail(
        &self,
        job: &Arc<ClaimedJob>,
        error: JobError,
        buried: &mut Vec<(Lease, String)>,
        report: &mut RunReport,
    ) -> Result<Outcome, sqlx::Error> {
        let lease = Lease::from(&**job);
        let message = error.to_string();
        let (how, outcome) = match error {
            JobError::Fatal(_) => (None, Outcome::Dead),
            JobError::Retry { .. } if job.attempts >= job.max_attempts => (None, Outcome::Dead),
            JobError::Retry { after, .. } => {
                let delay = after.unwrap_or_else(|| {
                    self.config
                        .backoff
                        .delay(job.attempts.max(1) as u32, &mut rand::rng())
                });
                (Some(Reschedule::Retry { delay }), Outcome::Retried)
            }
            JobError::Defer { after, .. } => {
                (Some(Reschedule::Defer { delay: after }), Outcome::Deferred)
            }
        };
        match how {
            None => {
                tracing::error!(job_id = %job.id, kind = %job.kind, attempts = job.attempts, error = %message, "job is dead");
                if let Some(handler) = self.registry.handlers.get(job.kind.as_str()) {
                    let ctx = JobContext {
                        job: job.clone(),
                        db: self.db.clone(),
                    };
                    let cleanup = AssertUnwindSafe(handler.on_dead(ctx, message.clone()));
                    match cleanup.catch_unwind().await {
                        Ok(Ok(())) => {}
                        Ok(Err(err)) => {
                            tracing::error!(job_id = %job.id, error = %err, "cleanup of a dead job failed");
                        }
                        Err(panic) => {
                            metrics::job_panicked(&job.kind);
                            tracing::error!(job_id = %job.id, panic = %panic_message(panic.as_ref()),
                                "cleanup of a dead job panicked");
                        }
                    }
                }
                buried.push((lease, message));
                report.dead += 1;
            }
            Some(how) => {
                if matches!(how, Reschedule::Defer { .. }) {
                    // Deferrals are the normal way to wait out a rate limit: thousands can be routine.
                    tracing::debug!(job_id = %job.id, kind = %job.kind, reason = %message, ?how, "job deferred");
                } else {
                    tracing::warn!(job_id = %job.id, kind = %job.kind, attempts = job.attempts, error = %message, ?how, "job will run again");
                }
                if queue::reschedule(&self.db, lease, how, Some(&message)).await? {
                    match how {
                        Reschedule::Defer { .. } => report.deferred += 1,
                        _ => report.retried += 1,
                    }
                } else {
                    report.lease_lost += 1;
                    return Ok(Outcome::LeaseLost);
                }
            }
        }
        Ok(outcome)
    }
}

/// A job task's outcome. Every task catches its handler's panics, so a join error is an abort at
/// the end of a shutdown's grace period; that job's lease is released by the pool or runs out.
fn joined(result: Result<Finished, tokio::task::JoinError>) -> Option<Finished> {
    result
        .inspect_err(|err| tracing::error!(error = %err, "job task ended without an outcome"))
        .ok()
}

/// Hands a finished attempt to the settler. The settler only stops after the claim loop drops its
/// sender, so a send cannot fail while the loop runs.
async fn send(to_settler: &mpsc::Sender<Finished>, finished: Finished) {
    let _ = to_settler.send(finished).await;
}

/// Extends the leases of running jobs every third of the lease; a lease found lost cancels its job.
async fn heartbeat_loop(db: PgPool, in_flight: InFlight, lease: Duration) {
    let mut tick = tokio::time::interval(lease / 3);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let leases: Vec<Lease> = in_flight
            .lock()
            .expect("in-flight map")
            .values()
            .map(|(lease, _)| *lease)
            .collect();
        if leases.is_empty() {
            continue;
        }
        match queue::heartbeat(&db, &leases, lease).await {
            Ok(held) => {
                let map = in_flight.lock().expect("in-flight map");
                for lost in leases.iter().filter(|l| !held.contains(&l.id)) {
                    if let Some((_, cancel)) = map.get(&lost.id) {
                        cancel.cancel();
                    }
                }
            }
            Err(err) => tracing::warn!(error = %err, "heartbeat failed; retrying next tick"),
        }
    }
}
