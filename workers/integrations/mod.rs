//! Thin clients of the outside services the pipeline talks to. They translate HTTP into typed
//! results and classify errors (retryable, rate-limited, fatal); retry decisions belong to the queue.

pub mod openai;
pub mod telegram;
