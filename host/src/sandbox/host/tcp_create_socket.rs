//! `wasi:sockets/tcp-create-socket`: wasmtime-wasi's, counting each socket
//! against the call's handle budgets (`handles.rs`). A socket holds a host
//! descriptor; its ticket is kept until the call ends. Installed over
//! wasmtime-wasi's own binding by shadowing it in the linker.

use wasmtime::component::{HasData, Resource};
use wasmtime_wasi::p2::bindings::sockets::network::{self, ErrorCode, IpAddressFamily, Network};
use wasmtime_wasi::p2::bindings::sockets::tcp_create_socket::Host;
use wasmtime_wasi::p2::{SocketError, SocketResult, TcpSocket};
use wasmtime_wasi::sockets::WasiSocketsCtxView;

use super::super::grants::CallGrants;
use super::super::handles::HandleKind;
use super::CallState;

/// The `HasData` marker for the counted socket factory.
pub(crate) struct CountedSockets;

impl HasData for CountedSockets {
    type Data<'a> = SocketsView<'a>;
}

pub(crate) struct SocketsView<'a> {
    sockets: WasiSocketsCtxView<'a>,
    grants: &'a mut CallGrants,
}

pub(crate) fn view(state: &mut CallState) -> SocketsView<'_> {
    SocketsView {
        sockets: WasiSocketsCtxView {
            ctx: state.wasi.sockets(),
            table: &mut state.table,
        },
        grants: &mut state.grants,
    }
}

impl network::Host for SocketsView<'_> {
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

impl network::HostNetwork for SocketsView<'_> {
    fn drop(&mut self, this: Resource<Network>) -> wasmtime::Result<()> {
        network::HostNetwork::drop(&mut self.sockets, this)
    }
}

impl Host for SocketsView<'_> {
    fn create_tcp_socket(
        &mut self,
        address_family: IpAddressFamily,
    ) -> SocketResult<Resource<TcpSocket>> {
        let ticket = self
            .grants
            .handles
            .take(HandleKind::Socket)
            .map_err(|hit| SocketError::trap(wasmtime::Error::new(hit)))?;
        let socket = Host::create_tcp_socket(&mut self.sockets, address_family)?;
        self.grants.sockets.push(ticket);
        Ok(socket)
    }
}
