//! `wasi:sockets/ip-name-lookup`: wasmtime-wasi's resolver, gated by the
//! task's network patterns (`net.rs`). A name no pattern matches is refused
//! before any query leaves the host; the addresses a permitted lookup
//! returns are remembered, so the guest may then connect to them.
//! Installed over wasmtime-wasi's own binding by shadowing it in the linker.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use wasmtime::component::{HasData, Resource};
use wasmtime_wasi::p2::bindings::sockets::ip_name_lookup::{
    Host, HostResolveAddressStream, ResolveAddressStream,
};
use wasmtime_wasi::p2::bindings::sockets::network::{self, ErrorCode, IpAddress, Network};
use wasmtime_wasi::p2::{DynPollable, SocketError, SocketResult};
use wasmtime_wasi::sockets::WasiSocketsCtxView;

use super::super::net::NetCall;
use super::CallState;

/// The `HasData` marker for the gated resolver.
pub(crate) struct GatedLookup;

impl HasData for GatedLookup {
    type Data<'a> = LookupView<'a>;
}

/// The state a lookup needs: wasmtime-wasi's sockets view and the call's allow-list.
pub(crate) struct LookupView<'a> {
    sockets: WasiSocketsCtxView<'a>,
    net: Option<&'a Arc<NetCall>>,
    /// Lookup stream rep → the name it resolves.
    names: &'a mut HashMap<u32, String>,
}

pub(crate) fn view(state: &mut CallState) -> LookupView<'_> {
    LookupView {
        sockets: WasiSocketsCtxView {
            ctx: state.wasi.sockets(),
            table: &mut state.table,
        },
        net: state.grants.net.as_ref(),
        names: &mut state.grants.lookups,
    }
}

impl network::Host for LookupView<'_> {
    fn convert_error_code(&mut self, error: SocketError) -> wasmtime::Result<ErrorCode> {
        network::Host::convert_error_code(&mut self.sockets, error)
    }

    fn network_error_code(
        &mut self,
        err: Resource<wasmtime::Error>,
    ) -> wasmtime::Result<Option<ErrorCode>> {
        network::Host::network_error_code(&mut self.sockets, err)
    }
}

impl network::HostNetwork for LookupView<'_> {
    fn drop(&mut self, this: Resource<Network>) -> wasmtime::Result<()> {
        network::HostNetwork::drop(&mut self.sockets, this)
    }
}

impl Host for LookupView<'_> {
    fn resolve_addresses(
        &mut self,
        network: Resource<Network>,
        name: String,
    ) -> SocketResult<Resource<ResolveAddressStream>> {
        let Some(name) = self.net.and_then(|net| net.lookup_allowed(&name)) else {
            return Err(ErrorCode::AccessDenied.into());
        };
        let stream = Host::resolve_addresses(&mut self.sockets, network, name.clone())?;
        self.names.insert(stream.rep(), name);
        Ok(stream)
    }
}

impl HostResolveAddressStream for LookupView<'_> {
    fn resolve_next_address(
        &mut self,
        stream: Resource<ResolveAddressStream>,
    ) -> SocketResult<Option<IpAddress>> {
        let rep = stream.rep();
        let next = HostResolveAddressStream::resolve_next_address(&mut self.sockets, stream)?;
        if let (Some(address), Some(net), Some(name)) = (&next, self.net, self.names.get(&rep)) {
            net.resolved(name, ip(address));
        }
        Ok(next)
    }

    fn subscribe(
        &mut self,
        stream: Resource<ResolveAddressStream>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        HostResolveAddressStream::subscribe(&mut self.sockets, stream)
    }

    fn drop(&mut self, stream: Resource<ResolveAddressStream>) -> wasmtime::Result<()> {
        self.names.remove(&stream.rep());
        HostResolveAddressStream::drop(&mut self.sockets, stream)
    }
}

fn ip(address: &IpAddress) -> IpAddr {
    match *address {
        IpAddress::Ipv4((a, b, c, d)) => IpAddr::V4(Ipv4Addr::new(a, b, c, d)),
        IpAddress::Ipv6((a, b, c, d, e, f, g, h)) => {
            IpAddr::V6(Ipv6Addr::new(a, b, c, d, e, f, g, h))
        }
    }
}
