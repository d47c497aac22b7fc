//! `[workload]`: synthetic users (rates, profile, classes, addresses) or a replayed log.

use super::*;

/// Keys of `[workload]` that describe synthetic users: meaningless with a replayed log.
fn synthetic_keys(w: &RawWorkload) -> [(&'static str, bool); 9] {
    [
        ("users_per_second", w.users_per_second.is_some()),
        ("profile", w.profile.is_some()),
        ("profile_repeat", w.profile_repeat.is_some()),
        ("pages", w.pages.is_some()),
        ("login", w.login.is_some()),
        ("requests", w.requests.is_some()),
        ("think_time", w.think_time.is_some()),
        ("parallel", w.parallel.is_some()),
        ("classes", w.classes.is_some()),
    ]
}

pub(super) fn validate_replay(r: &RawReplay, w: &RawWorkload, base_dir: &Path) -> PathResult<ReplayConfig> {
    for (k, set) in synthetic_keys(w) {
        if set {
            let hint = if k == "login" {
                "; set workload.replay.login instead"
            } else {
                ""
            };
            return err(
                format!("workload.{k}"),
                format!(
                    "describes synthetic users and cannot be combined with `workload.replay` (the log gives \
                     the requests){hint}; remove one of them"
                ),
            );
        }
    }
    let p = "workload.replay";
    if r.file.trim().is_empty() {
        return err(
            format!("{p}.file"),
            "must name the log file, relative to the scenario file",
        );
    }
    if w.addresses.is_some() {
        return err(
            "workload.addresses",
            "describes synthetic users' addresses and cannot be combined with `workload.replay` (the log \
             gives the addresses); remove it",
        );
    }
    let format = match r.format.as_deref().unwrap_or("combined") {
        "haproxy" => LogFormat::Haproxy,
        "csv" => LogFormat::Csv,
        f => {
            if !f.contains('$') && f != "combined" && f != "main" {
                return err(
                    format!("{p}.format"),
                    format!("unknown format `{f}`; choose combined, main, haproxy, csv or an nginx log_format string"),
                );
            }
            // combined, main, or an nginx log_format string: compiled now so that a mistake is
            // reported against the key.
            crate::workload::replay::nginx::NginxFormat::new(f, r.id_cookie.as_deref())
                .map_err(|m| (format!("{p}.format"), m))?;
            LogFormat::Nginx(f.to_string())
        }
    };
    if r.id_cookie.is_some() && !matches!(format, LogFormat::Nginx(_)) {
        return err(
            format!("{p}.id_cookie"),
            "applies to nginx formats with `$cookie_NAME` only (a CSV log has its `client_id` column)",
        );
    }
    let session_gap = opt_duration(
        &r.session_gap,
        &format!("{p}.session_gap"),
        SimTime::from_secs_f64(1800.0),
    )?;
    if session_gap == SimTime::ZERO {
        return err(format!("{p}.session_gap"), "must be longer than 0s");
    }
    let time_scale = r.time_scale.unwrap_or(1.0);
    if !(time_scale > 0.0 && time_scale <= 1e6) {
        return err(
            format!("{p}.time_scale"),
            format!("must be above 0 and at most 1e6 (0.5 replays twice as fast), got {time_scale}"),
        );
    }
    let clone = r.clone.unwrap_or(1);
    if !(1..=MAX_CLONES).contains(&clone) {
        return err(
            format!("{p}.clone"),
            format!("must be between 1 and {MAX_CLONES}, got {clone}"),
        );
    }
    let from = opt_duration(&r.from, &format!("{p}.from"), SimTime::ZERO)?;
    let to = match &r.to {
        Some(v) => Some(duration(v, &format!("{p}.to"))?),
        None => None,
    };
    if let Some(t) = to
        && t <= from
    {
        return err(format!("{p}.to"), format!("must be after `from` ({from}), got {t}"));
    }
    let service = choice(
        r.service_time.as_deref().unwrap_or("auto"),
        ServiceSource::ALL,
        &format!("{p}.service_time"),
    )?;
    Ok(ReplayConfig {
        file: base_dir.join(&r.file),
        format,
        id_cookie: r.id_cookie.clone(),
        session_gap,
        time_scale,
        clone,
        from,
        to,
        service,
        login: r.login.unwrap_or(true),
        strict: r.strict.unwrap_or(false),
    })
}

/// Most copies `clone` may ask for (a replayed request's index keeps the copy in 10 bits).
pub(crate) const MAX_CLONES: u32 = 1000;

pub(super) fn validate_workload(w: &RawWorkload, base_dir: &Path) -> PathResult<Workload> {
    let replay = match &w.replay {
        Some(r) => Some(validate_replay(r, w, base_dir)?),
        None => None,
    };
    let users_per_second = match (w.users_per_second, &replay) {
        (Some(u), _) => u,
        (None, Some(_)) => 1.0,
        (None, None) => {
            return err(
                "workload.users_per_second",
                "missing key `users_per_second` (or give a `[workload.replay]` log); see docs/scenario-format.md",
            );
        }
    };
    if !(users_per_second > 0.0 && users_per_second.is_finite()) {
        return err(
            "workload.users_per_second",
            format!("must be positive, got {users_per_second}"),
        );
    }
    let mut profile = Vec::new();
    if let Some(steps) = &w.profile {
        for (i, s) in steps.iter().enumerate() {
            let at = duration(&s.at, &format!("workload.profile[{i}].at"))?;
            if !(s.factor >= 0.0 && s.factor.is_finite()) {
                return err(
                    format!("workload.profile[{i}].factor"),
                    format!("must be 0 or more, got {}", s.factor),
                );
            }
            if i == 0 && at != SimTime::ZERO {
                return err("workload.profile[0].at", "the first step must start at \"0s\"");
            }
            if let Some(prev) = profile.last() {
                let prev: &ProfileStep = prev;
                if at <= prev.at {
                    return err(
                        format!("workload.profile[{i}].at"),
                        format!("steps must be in increasing time order ({at} is not after {})", prev.at),
                    );
                }
            }
            profile.push(ProfileStep { at, factor: s.factor });
        }
    }
    let profile_repeat = match &w.profile_repeat {
        None => None,
        Some(v) => {
            let r = duration(v, "workload.profile_repeat")?;
            match profile.last() {
                None => return err("workload.profile_repeat", "needs a `profile` to repeat"),
                Some(last) if r <= last.at => {
                    return err(
                        "workload.profile_repeat",
                        format!("must be longer than the last profile step's time ({})", last.at),
                    );
                }
                _ => Some(r),
            }
        }
    };
    let base = RawNamedClass {
        name: "user".into(),
        share: 1.0,
        login: w.login,
        requests: w.requests.clone(),
        think_time: w.think_time.clone(),
        refuse_cookies: w.refuse_cookies,
        session_size: w.session_size.clone(),
        session_modify: w.session_modify,
        parallel: w.parallel,
    };
    let classes = match &w.classes {
        None => vec![validate_class(&base, &base, "workload")?],
        Some(list) if list.is_empty() => {
            return err("workload.classes", "must have at least one class, or be left out");
        }
        Some(list) => {
            let mut out = Vec::new();
            for (i, c) in list.iter().enumerate() {
                let path = format!("workload.classes[{i}]");
                if c.share < 0.0 || !c.share.is_finite() {
                    return err(format!("{path}.share"), format!("must be 0 or more, got {}", c.share));
                }
                out.push(validate_class(c, &base, &path)?);
            }
            let total: f64 = out.iter().map(|c| c.share).sum();
            if (total - 1.0).abs() > 1e-6 {
                return err(
                    "workload.classes",
                    format!("shares must add up to 1, they add up to {total}"),
                );
            }
            out
        }
    };
    let a = w.addresses.as_ref();
    let addresses = AddressModel {
        networks: at_least(
            a.and_then(|a| a.networks).unwrap_or(2000),
            1,
            "workload.addresses.networks",
        )?,
        nat_share: fraction(
            a.and_then(|a| a.nat_share).unwrap_or(0.05),
            "workload.addresses.nat_share",
        )?,
        nat_addresses: at_least(
            a.and_then(|a| a.nat_addresses).unwrap_or(20),
            1,
            "workload.addresses.nat_addresses",
        )?,
        network_skew: match a.and_then(|a| a.network_skew).unwrap_or(0.0) {
            s if (0.0..=10.0).contains(&s) => s,
            s => {
                return err(
                    "workload.addresses.network_skew",
                    format!("must be between 0 and 10, got {s}"),
                );
            }
        },
    };
    if addresses.networks > 1 << 23 {
        return err(
            "workload.addresses.networks",
            format!("at most {} networks, got {}", 1 << 23, addresses.networks),
        );
    }
    Ok(Workload {
        users_per_second,
        profile,
        profile_repeat,
        pages: at_least(w.pages.unwrap_or(1000), 1, "workload.pages")?,
        classes,
        addresses,
        replay,
    })
}

pub(super) fn validate_class(c: &RawNamedClass, base: &RawNamedClass, path: &str) -> PathResult<UserClass> {
    if c.name.trim().is_empty() {
        return err(format!("{path}.name"), "must not be empty");
    }
    let requests = match c.requests.as_ref().or(base.requests.as_ref()) {
        Some(v) => parse_dist(v, Kind::Count, &format!("{path}.requests"))?,
        None => Dist::Geometric {
            mean: 10.0,
            geo: rand_distr::Geometric::new(1.0 / 11.0).map_err(|e| (path.to_string(), e.to_string()))?,
        },
    };
    let think_time = match c.think_time.as_ref().or(base.think_time.as_ref()) {
        Some(v) => parse_dist(v, Kind::Duration, &format!("{path}.think_time"))?,
        None => Dist::exponential(5.0).map_err(|m| (path.to_string(), m))?,
    };
    Ok(UserClass {
        name: c.name.clone(),
        share: c.share,
        login: c.login.or(base.login).unwrap_or(true),
        requests,
        think_time,
        refuse_cookies: fraction(
            c.refuse_cookies.or(base.refuse_cookies).unwrap_or(0.0),
            &format!("{path}.refuse_cookies"),
        )?,
        session_size: match c.session_size.as_ref().or(base.session_size.as_ref()) {
            Some(v) => {
                let d = parse_dist(v, Kind::Bytes, &format!("{path}.session_size"))?;
                if d.mean().is_nan() || d.mean() >= 1e9 {
                    return err(format!("{path}.session_size"), "the mean must be below 1GB");
                }
                d
            }
            None => Dist::constant(1000.0),
        },
        session_modify: fraction(
            c.session_modify.or(base.session_modify).unwrap_or(1.0),
            &format!("{path}.session_modify"),
        )?,
        parallel: match c.parallel.or(base.parallel).unwrap_or(1) {
            p @ 1..=64 => p,
            p => return err(format!("{path}.parallel"), format!("must be between 1 and 64, got {p}")),
        },
    })
}
