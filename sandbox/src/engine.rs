//! The one wasmtime Engine: component model, pooling allocator (on-demand where
//! the virtual memory cannot be reserved), fuel, and an epoch ticker for deadlines
//! of wasm that runs (the call's timer bounds what it waits on: see `call`).

use std::time::Duration;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How often the epoch advances; deadlines are counted in these ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Builds the engine for plugins whose memories are at most `max_memory` bytes.
pub fn build(max_memory: u64) -> wasmtime::Result<Engine> {
    let pooled = config(Some(max_memory));
    match Engine::new(&pooled) {
        Ok(engine) => Ok(engine),
        Err(e) => {
            tracing::warn!(error = %e, "pooling allocator unavailable, using on-demand allocation");
            Engine::new(&config(None))
        }
    }
}

fn config(pool_max_memory: Option<u64>) -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    config.consume_fuel(true);
    // Plugins use no component-model async; this saves about 300 ns per call.
    config.concurrency_support(false);
    if let Some(max_memory) = pool_max_memory {
        let mut pool = PoolingAllocationConfig::default();
        // Sized for a few dozen concurrent calls; components from Python or
        // JavaScript bring many core instances, memories and tables each.
        pool.total_component_instances(64)
            // One fiber stack per call in flight (calls run with `call_async`).
            .total_stacks(64)
            .total_core_instances(1_000)
            .total_memories(128)
            .total_tables(512)
            .max_core_instances_per_component(64)
            .max_memories_per_component(8)
            .max_tables_per_component(32)
            .max_memory_size(usize::try_from(max_memory).unwrap_or(usize::MAX))
            // A fresh instance per call touches the same few pages (stack,
            // heap start) each time: zeroing them with memset beats madvise
            // and the page faults that follow it. Pages are zeroed either way.
            .linear_memory_keep_resident(1 << 20)
            .table_keep_resident(64 << 10)
            .pagemap_scan(wasmtime::Enabled::Auto);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    config
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until the engine is dropped.
pub fn start_ticker(engine: &Engine) {
    let weak = engine.weak();
    let spawned = std::thread::Builder::new()
        .name("socialcrm-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the epoch ticker: plugin deadlines will not fire");
    }
}

/// The number of ticks that covers `deadline` (at least one).
pub fn ticks(deadline: Duration) -> u64 {
    (deadline.as_micros() / EPOCH_TICK.as_micros()).max(1) as u64 + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadline_fires_within_a_tick_of_its_time() {
        // The epoch may advance right after the deadline is set (then the
        // call has `ticks - 1` whole ticks) or right before (then `ticks`).
        for ms in [0, 1, 4, 5, 6, 9, 10, 999, 1_000, 10_000] {
            let deadline = Duration::from_millis(ms);
            let ticks = u32::try_from(ticks(deadline)).unwrap_or(u32::MAX);
            let earliest = EPOCH_TICK * (ticks - 1);
            let latest = EPOCH_TICK * ticks;
            assert!(
                earliest + EPOCH_TICK > deadline,
                "{ms} ms: fires too early ({ticks} ticks)"
            );
            assert!(
                latest <= deadline + EPOCH_TICK * 2,
                "{ms} ms: fires too late ({ticks} ticks)"
            );
        }
        assert_eq!(ticks(Duration::from_millis(10)), 3);
        assert_eq!(ticks(Duration::ZERO), 2);
    }
}
