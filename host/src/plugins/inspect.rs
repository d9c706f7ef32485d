//! What a component imports and exports, printed as WIT, for `plugin inspect`.

use wit_component::{DecodedWasm, WitPrinter};

/// The component's world (`import ...;` and `export ...;` lines) as WIT.
pub fn world_wit(wasm: &[u8]) -> Result<String, String> {
    let decoded = wit_component::decode(wasm).map_err(|e| format!("{e:#}"))?;
    let DecodedWasm::Component(resolve, world) = decoded else {
        return Err("a WIT package, not a component".into());
    };
    let package = resolve.worlds[world]
        .package
        .ok_or_else(|| "the component's world has no package".to_string())?;
    let mut printer = WitPrinter::default();
    printer.emit_docs(false);
    printer.print(&resolve, package, &[]).map_err(|e| format!("{e:#}"))?;
    Ok(printer.output.to_string())
}
