//! Reports the environment variables it can see (it should see only those granted).

wit_bindgen::generate!({ path: "../../../wit", world: "task" });

struct Task;

export!(Task);

impl Guest for Task {
    fn run(_input: String, _ctx: Context) -> Result<String, TaskError> {
        let vars: serde_json::Map<String, serde_json::Value> =
            std::env::vars().map(|(k, v)| (k, v.into())).collect();
        let args: Vec<String> = std::env::args().collect();
        Ok(serde_json::json!({ "vars": vars, "args": args }).to_string())
    }
}
