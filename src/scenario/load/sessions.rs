//! `[sessions]`: the storage strategy and its stores, every figure resolved from its kind's
//! preset and the file's overrides.

use super::*;
use crate::store::tomcat::channel::SendMode;
use crate::store::tomcat::membership::Membership;

pub(super) fn validate_sessions(r: &RawSessions) -> PathResult<SessionsConfig> {
    let name = r.storage.as_deref().unwrap_or("local");
    if let Some((kind, _)) = StoreKind::ALL.iter().find(|(k, _)| k.eq_ignore_ascii_case(name.trim())) {
        // A store's kind where the strategy goes: the common slip of writing where sessions
        // live instead of how the cluster keeps them.
        return err(
            "sessions.storage",
            format!(
                "`{name}` is a store, not a strategy: write storage = \"shared\" with store.kind = \"{kind}\" \
                 (every backend reads one {kind}), or storage = \"cached_db\" for a cache in front of a database"
            ),
        );
    }
    let storage = choice(name, StorageKind::ALL, "sessions.storage")?;
    // PHP's defaults (php.ini): session.gc_maxlifetime = 1440, gc_probability = 1, gc_divisor = 100.
    let lifetime = opt_duration(&r.gc_maxlifetime, "sessions.gc_maxlifetime", SimTime::from_secs(1440))?;
    if lifetime == SimTime::ZERO {
        return err("sessions.gc_maxlifetime", "must be longer than 0s");
    }
    let gc_divisor = at_least(r.gc_divisor.unwrap_or(100), 1, "sessions.gc_divisor")?;
    let gc_probability = r.gc_probability.unwrap_or(1);
    if gc_probability > gc_divisor {
        return err(
            "sessions.gc_probability",
            format!("must be at most gc_divisor ({gc_divisor}), got {gc_probability}"),
        );
    }
    let rp = r.replication.as_ref();
    let rd = RawReplication::default();
    let rp = rp.unwrap_or(&rd);
    let replication = ReplicationConfig {
        send_cpu: opt_duration(&rp.send_cpu, "sessions.replication.send_cpu", SimTime::from_micros(100))?,
        receive_cpu: opt_duration(
            &rp.receive_cpu,
            "sessions.replication.receive_cpu",
            SimTime::from_micros(100),
        )?,
        message_overhead: match &rp.message_overhead {
            Some(v) => size32(v, "sessions.replication.message_overhead")?,
            None => 300,
        },
        rtt: opt_duration(&rp.rtt, "sessions.replication.rtt", SimTime::from_micros(200))?,
        send_window: opt_duration(
            &rp.send_window,
            "sessions.replication.send_window",
            SimTime::from_millis(10),
        )?,
        send_mode: match &rp.send_mode {
            Some(m) => Some(choice(m, SendMode::ALL, "sessions.replication.send_mode")?),
            None => None,
        },
        jitter: opt_duration(&rp.jitter, "sessions.replication.jitter", SimTime::ZERO)?,
        receiver_threads: at_least(
            rp.receiver_threads.unwrap_or(15),
            1,
            "sessions.replication.receiver_threads",
        )?,
        sender_timeout: opt_duration(
            &rp.sender_timeout,
            "sessions.replication.sender_timeout",
            SimTime::from_secs(3),
        )?,
        membership: {
            let base = choice(
                rp.membership.as_deref().unwrap_or("multicast"),
                Membership::ALL,
                "sessions.replication.membership",
            )?;
            let period = opt_duration(
                &rp.membership_period,
                "sessions.replication.membership_period",
                base.period,
            )?;
            if period == SimTime::ZERO {
                return err("sessions.replication.membership_period", "must be more than 0");
            }
            Membership {
                period,
                timeout: opt_duration(
                    &rp.membership_timeout,
                    "sessions.replication.membership_timeout",
                    base.timeout,
                )?,
            }
        },
        // SimpleTcpCluster.checkDefaults adds JvmRouteBinderValve when no valve is configured.
        jvm_route_binder: rp.jvm_route_binder.unwrap_or(true),
    };
    let cookie_limit = match &r.cookie_limit {
        Some(v) => at_least(size32(v, "sessions.cookie_limit")?, 1, "sessions.cookie_limit")?,
        None => 4096,
    };
    let fallback_cookie_bytes = match &r.fallback_cookie_size {
        Some(v) => size32(v, "sessions.fallback_cookie_size")?,
        None => 256,
    };
    if fallback_cookie_bytes > cookie_limit {
        return err(
            "sessions.fallback_cookie_size",
            format!("must fit in sessions.cookie_limit ({cookie_limit} B), got {fallback_cookie_bytes} B"),
        );
    }
    // Django's cached_db writes through to its database: there the store defaults to SQL.
    let default_store = if storage == StorageKind::CachedDb {
        StoreKind::Sql
    } else {
        StoreKind::Redis
    };
    let store = validate_store(r.store.as_ref(), "sessions.store", default_store)?;
    let cache = validate_store(r.cache.as_ref(), "sessions.cache", StoreKind::Memcached)?;
    Ok(SessionsConfig {
        storage,
        lifetime,
        gc_probability,
        gc_divisor,
        write: choice(r.write.as_deref().unwrap_or("lazy"), WriteMode::ALL, "sessions.write")?,
        cookie_limit,
        fallback_cookie_bytes,
        replication,
        store,
        cache,
    })
}

/// A store's figures: the kind's preset (shared/docs/real-systems.md), then each key the
/// scenario sets.
pub(super) fn validate_store(r: Option<&RawStore>, at: &str, default_kind: StoreKind) -> PathResult<StoreConfig> {
    let empty = RawStore::default();
    let r = r.unwrap_or(&empty);
    let p = |k: &str| format!("{at}.{k}");
    let kind = match &r.kind {
        Some(k) => choice(k, StoreKind::ALL, &p("kind"))?,
        None => default_kind,
    };
    let us = SimTime::from_micros;
    // Presets. Redis: one command thread at about 100k operations/s without pipelining (10 us
    // each), maxclients 10000, no maxmemory, noeviction, RDB snapshots (the `save 60 10000`
    // rule applies under any real session load), phpredis locking off, 100 retries x 20 ms.
    // memcached: 4 worker threads at over 200k requests/s (20 us each per thread), -c 1024,
    // -m 64 (MiB), LRU eviction, no persistence, php-memcached locking on: 150 ms x 5 retries.
    // SQL: simple queries of 10 to 100 us server side on 8 cores, MySQL max_connections 151.
    let (service_us, concurrency, max_conn, memory, eviction, persistence, locking, wait_ms, retries, fail, spread) =
        match kind {
            StoreKind::Redis => (
                10.0,
                1,
                10_000,
                0,
                Eviction::NoEviction,
                Persistence::Snapshot {
                    every: SimTime::from_secs(60),
                },
                false,
                20,
                100,
                LockFail::DropWrite,
                Spread::Modulo,
            ),
            StoreKind::Memcached => (
                20.0,
                4,
                1024,
                64 << 20,
                Eviction::Lru,
                Persistence::None,
                true,
                150,
                5,
                LockFail::LoseSession,
                Spread::Consistent,
            ),
            StoreKind::Sql => (
                100.0,
                8,
                151,
                0,
                Eviction::NoEviction,
                Persistence::Durable,
                false,
                20,
                100,
                LockFail::DropWrite,
                Spread::Modulo,
            ),
        };
    let servers = at_least(r.servers.unwrap_or(1), 1, &p("servers"))?;
    if servers > 1024 {
        return err(p("servers"), format!("at most 1024 servers, got {servers}"));
    }
    let service_time = match &r.service_time {
        Some(v) => parse_dist(v, Kind::Duration, &p("service_time"))?,
        None => Dist::exponential(service_us * 1e-6).map_err(|m| (p("service_time"), m))?,
    };
    let concurrency = at_least(r.concurrency.unwrap_or(concurrency), 1, &p("concurrency"))?;
    if concurrency > 100_000 {
        return err(p("concurrency"), format!("at most 100000, got {concurrency}"));
    }
    let timeout = opt_duration(&r.timeout, &p("timeout"), SimTime::from_secs(5))?;
    if timeout == SimTime::ZERO {
        return err(p("timeout"), "must be longer than 0s");
    }
    let growth_factor = r.growth_factor.unwrap_or(1.25);
    if !(growth_factor > 1.0 && growth_factor <= 4.0) {
        return err(
            p("growth_factor"),
            format!("must be above 1 and at most 4 (memcached -f), got {growth_factor}"),
        );
    }
    let page_size = match &r.page_size {
        Some(v) => size32(v, &p("page_size"))?,
        None => 1 << 20,
    };
    if !(1024..=(1 << 30)).contains(&page_size) {
        return err(
            p("page_size"),
            format!("must be between 1KiB and 1GiB (memcached -I), got {page_size} B"),
        );
    }
    let memory = match &r.memory {
        Some(v) => size(v, &p("memory"))?,
        None => memory,
    };
    if kind == StoreKind::Memcached && memory != 0 && memory < page_size as u64 {
        return err(
            p("memory"),
            format!("must hold at least one slab page ({page_size} B), got {memory} B; 0 means unlimited"),
        );
    }
    let every = opt_duration(&r.snapshot_every, &p("snapshot_every"), SimTime::from_secs(60))?;
    let persistence = match r.persistence.as_deref() {
        None => match persistence {
            Persistence::Snapshot { .. } => Persistence::Snapshot { every },
            x => x,
        },
        Some(name) => {
            const NAMES: &[(&str, u8)] = &[("none", 0), ("snapshot", 1), ("aof", 2), ("durable", 3)];
            match choice(name, NAMES, &p("persistence"))? {
                0 => Persistence::None,
                1 => Persistence::Snapshot { every },
                2 => Persistence::AppendOnly,
                _ => Persistence::Durable,
            }
        }
    };
    if r.snapshot_every.is_some() && !matches!(persistence, Persistence::Snapshot { .. }) {
        return err(p("snapshot_every"), "applies only with persistence = \"snapshot\"");
    }
    if let Persistence::Snapshot { every } = persistence
        && every == SimTime::ZERO
    {
        return err(p("snapshot_every"), "must be longer than 0s");
    }
    Ok(StoreConfig {
        kind,
        servers,
        spread: match &r.distribution {
            Some(d) => choice(d, Spread::ALL, &p("distribution"))?,
            None => spread,
        },
        service_time,
        concurrency,
        rtt: opt_duration(&r.rtt, &p("rtt"), us(200))?,
        timeout,
        max_connections: r.max_connections.unwrap_or(max_conn),
        memory,
        eviction: match &r.eviction {
            Some(e) => choice(e, Eviction::ALL, &p("eviction"))?,
            None => eviction,
        },
        growth_factor,
        page_size,
        item_overhead: match &r.item_overhead {
            Some(v) => size32(v, &p("item_overhead"))?,
            None => 50,
        },
        key_bytes: match &r.key_size {
            Some(v) => size32(v, &p("key_size"))?,
            None => match kind {
                // "PHPREDIS_SESSION:" + 26 characters; "memc.sess.key." + 26; Django's 40-char key.
                StoreKind::Redis => 43,
                StoreKind::Memcached => 40,
                StoreKind::Sql => 40,
            },
        },
        persistence,
        locking: r.locking.unwrap_or(locking),
        lock_wait: opt_duration(&r.lock_wait, &p("lock_wait"), SimTime::from_millis(wait_ms))?,
        lock_retries: r.lock_retries.unwrap_or(retries),
        lock_fail: match &r.lock_fail {
            Some(f) => choice(f, LockFail::ALL, &p("lock_fail"))?,
            None => fail,
        },
    })
}
