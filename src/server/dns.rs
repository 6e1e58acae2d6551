//! DNS TXT lookups for domain verification, through hickory's resolver: the system's nameservers,
//! or the one the operator names (`GATEHOUSE_DNS_SERVER`; the tests run their own on loopback).
//! Nothing is cached, so a record published a moment ago is seen on the next try.
use hickory_resolver::{
    config::{ConnectionConfig, NameServerConfig, ResolverConfig},
    net::runtime::TokioRuntimeProvider,
    proto::rr::RData,
    TokioResolver,
};
use std::{net::SocketAddr, time::Duration};

#[derive(Clone)]
pub struct TxtResolver(TokioResolver);

impl TxtResolver {
    pub fn new(nameserver: Option<SocketAddr>) -> anyhow::Result<TxtResolver> {
        let mut builder = match nameserver {
            Some(addr) => {
                let connections = [ConnectionConfig::udp(), ConnectionConfig::tcp()]
                    .into_iter()
                    .map(|mut c| {
                        c.port = addr.port();
                        c
                    })
                    .collect();
                let server = NameServerConfig::new(addr.ip(), true, connections);
                TokioResolver::builder_with_config(
                    ResolverConfig::from_parts(None, Vec::new(), vec![server]),
                    TokioRuntimeProvider::default(),
                )
            }
            None => TokioResolver::builder_tokio()?,
        };
        let options = builder.options_mut();
        options.cache_size = 0;
        options.timeout = Duration::from_secs(5);
        options.attempts = 2;
        Ok(TxtResolver(builder.build()?))
    }

    /// The TXT strings at `name` (each record's character-strings joined, as RFC 7208 does);
    /// none when the name has no TXT record. An error says why the lookup failed.
    pub async fn txt(&self, name: &str) -> Result<Vec<String>, String> {
        let fqdn = format!("{}.", name.trim_end_matches('.'));
        match self.0.txt_lookup(fqdn).await {
            Ok(lookup) => Ok(lookup
                .answers()
                .iter()
                .filter_map(|record| match &record.data {
                    RData::TXT(txt) => {
                        Some(txt.txt_data.iter().map(|part| String::from_utf8_lossy(part)).collect::<String>())
                    }
                    _ => None,
                })
                .collect()),
            Err(e) if e.is_no_records_found() => Ok(Vec::new()),
            Err(e) => Err(e.to_string()),
        }
    }
}
