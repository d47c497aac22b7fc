//! Integration tests, one binary: the command line ([`cli`]), determinism ([`determinism`]),
//! sweeps, shards, resume and plan ([`sweep`]), agreement with queueing theory ([`theory`]),
//! the balancer's failure detection and retries ([`balancer`]), the Apache policy in whole runs
//! ([`apache`]), config import
//! ([`config_import`]), session storage ([`storage`]), failures ([`faults`]), log replay and
//! the trace ([`replay`]), the chart layer ([`charts`]), charts and report.html of whole
//! folders ([`report`]) and, ignored unless asked for, conformance with real nginx and HAProxy
//! ([`conformance`]) and Apache httpd ([`conformance_httpd`]), and the report in headless
//! Chromium ([`browser`]).

mod answers;
mod apache;
mod architecture;
mod balancer;
mod browser;
mod caddy;
mod charts;
mod cli;
mod common;
mod config_conformance;
mod config_import;
mod config_import_yaml;
mod conformance;
mod conformance_caddy;
mod conformance_httpd;
mod determinism;
mod faults;
mod replay;
mod report;
mod storage;
mod sweep;
mod theory;
