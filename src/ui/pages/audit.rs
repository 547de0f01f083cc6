//! `/audit`: who changed what, and when. Admins only.

use leptos::prelude::*;
use leptos_router::{components::Form, hooks::use_query_map};

use crate::{
    model::AuditEntry,
    ui::components::{DataTable, EmptyState, ErrorNotice, Loading, PageHeader, Timestamp},
};

#[server(endpoint = "audit_entries")]
pub async fn audit_entries(filter: String) -> Result<Vec<AuditEntry>, ServerFnError> {
    use crate::{
        auth::{audit, require},
        model::Role,
        startup::{unexpected, AppState},
    };

    require(Role::Admin)?;
    let state = AppState::from_context()?;
    audit::list(&state.db.pool, &filter, 500)
        .await
        .map_err(unexpected("reading the audit log"))
}

#[component]
pub fn AuditPage() -> impl IntoView {
    let params = use_query_map();
    let filter = move || params.read().get("q").unwrap_or_default();
    let entries = Resource::new(filter, audit_entries);

    view! {
        <PageHeader title="Audit" summary="Who changed what, when, and from where." />
        <Form method="GET" action="">
            <div class="filter-bar" role="search">
                <label for="audit-filter">"Filter"</label>
                <input id="audit-filter" type="search" name="q" placeholder="user, action or target" prop:value=filter />
                <button type="submit">"Filter"</button>
            </div>
        </Form>
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                match entries.await {
                    Ok(entries) if entries.is_empty() => view! {
                        <EmptyState title="Nothing audited yet">
                            <p>"Logins and changes to destinations, users, tokens and alerts are recorded here."</p>
                        </EmptyState>
                    }.into_any(),
                    Ok(entries) => view! { <AuditTable entries /> }.into_any(),
                    Err(error) => view! { <ErrorNotice message=error.to_string() /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn AuditTable(entries: Vec<AuditEntry>) -> impl IntoView {
    view! {
        <DataTable caption="Audit log" headings=&["When", "Who", "Action", "Target", "Detail", "From"]>
            {entries
                .into_iter()
                .map(|e| view! {
                    <tr>
                        <td><Timestamp iso=e.at /></td>
                        <td>{e.actor}</td>
                        <td><code>{e.action}</code></td>
                        <td>{e.target.unwrap_or_default()}</td>
                        <td>{e.detail.unwrap_or_default()}</td>
                        <td>{e.remote_addr.unwrap_or_default()}</td>
                    </tr>
                })
                .collect_view()}
        </DataTable>
    }
}
