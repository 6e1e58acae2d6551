//! `cargo bench --features ssr --bench ratelimit`: one `RateLimiter::check` on the in-memory
//! backend, for one hot bucket and for 10,000 distinct buckets visited in turn. The memory
//! backend's future is ready on first poll, so it is driven with `now_or_never` (no runtime cost).
use criterion::{criterion_group, criterion_main, Criterion};
use futures::FutureExt;
use gatehouse::server::ratelimit::{Quota, RateLimiter};
use std::{hint::black_box, time::Duration};

fn check(c: &mut Criterion) {
    let limiter = RateLimiter::in_memory();
    // Allowed on every call: the bench measures the allowing path, which writes the state.
    let generous = Quota { limit: u32::MAX, period: Duration::from_secs(3600) };
    let mut group = c.benchmark_group("ratelimit/memory");

    group.bench_function("hot bucket, allowed", |b| {
        b.iter(|| black_box(limiter.check(black_box("key:hot"), generous).now_or_never().unwrap()))
    });

    let tight = Quota::per_minute(10);
    group.bench_function("hot bucket, refused", |b| {
        b.iter(|| black_box(limiter.check(black_box("key:refused"), tight).now_or_never().unwrap()))
    });

    let buckets: Vec<String> = (0..10_000).map(|i| format!("key:{i:05}")).collect();
    let mut next = 0;
    group.bench_function("10k distinct buckets", |b| {
        b.iter(|| {
            next = (next + 1) % buckets.len();
            black_box(limiter.check(black_box(&buckets[next]), generous).now_or_never().unwrap())
        })
    });
    group.finish();
}

criterion_group!(benches, check);
criterion_main!(benches);
