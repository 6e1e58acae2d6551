//! Form fields with their label, hint and the error that belongs to them.
use crate::shared::error::AppError;
use leptos::prelude::*;

/// The latest error of a server action, as a signal.
pub type ActionError = Signal<Option<AppError>>;

pub fn action_error<S>(action: ServerAction<S>) -> ActionError
where
    S: leptos::server_fn::ServerFn<Output = (), Error = AppError> + Clone + Send + Sync + 'static,
{
    let value = action.value();
    Signal::derive(move || value.get().and_then(Result::err))
}

/// Errors not tied to one of `fields` are shown at the top of the form.
#[component]
pub fn FormAlert(error: ActionError, #[prop(into)] fields: Vec<&'static str>) -> impl IntoView {
    let message = move || error.get().filter(|e| e.field().is_none_or(|f| !fields.contains(&f))).map(|e| e.message);
    view! { {move || message().map(|m| view! { <p class="alert" role="alert">{m}</p> })} }
}

/// A labelled input; its error (if the last submit failed on this field) sits right under it.
#[component]
pub fn Field(
    name: &'static str,
    label: &'static str,
    #[prop(default = "text")] kind: &'static str,
    #[prop(optional)] autocomplete: &'static str,
    #[prop(optional, into)] value: Option<String>,
    #[prop(optional)] hint: &'static str,
    error: ActionError,
) -> impl IntoView {
    let id = format!("field-{name}");
    let error_id = format!("{id}-error");
    let field_error = move || error.get().filter(|e| e.field() == Some(name)).map(|e| e.message);
    let has_error = move || field_error().is_some();
    view! {
        <div class="field">
            <label for=id.clone()>{label}</label>
            {(!hint.is_empty()).then(|| view! { <p class="hint">{hint}</p> })}
            <input id=id type=kind name=name autocomplete=autocomplete value=value required=true
                aria-invalid=move || has_error().to_string() aria-describedby=error_id.clone()/>
            {move || field_error().map(|m| view! { <p id=error_id.clone() class="field-error" role="alert">{m}</p> })}
        </div>
    }
}

/// A password input with a "Show password" toggle (which needs the hydrated app to work).
#[component]
pub fn PasswordField(
    name: &'static str,
    label: &'static str,
    autocomplete: &'static str,
    #[prop(optional)] hint: &'static str,
    error: ActionError,
) -> impl IntoView {
    let shown = RwSignal::new(false);
    let id = format!("field-{name}");
    let error_id = format!("{id}-error");
    let field_error = move || error.get().filter(|e| e.field() == Some(name)).map(|e| e.message);
    view! {
        <div class="field">
            <label for=id.clone()>{label}</label>
            {(!hint.is_empty()).then(|| view! { <p class="hint">{hint}</p> })}
            <div class="password-row">
                <input id=id.clone() type=move || if shown.get() { "text" } else { "password" } name=name
                    autocomplete=autocomplete required=true aria-describedby=error_id.clone()
                    aria-invalid=move || field_error().is_some().to_string()/>
                <button type="button" class="button secondary small" aria-controls=id
                    aria-pressed=move || shown.get().to_string() on:click=move |_| shown.update(|s| *s = !*s)>
                    "Show password"
                </button>
            </div>
            {move || field_error().map(|m| view! { <p id=error_id.clone() class="field-error" role="alert">{m}</p> })}
        </div>
    }
}

/// The error of the latest submit when it is about `name`.
fn field_error(error: ActionError, name: &'static str) -> impl Fn() -> Option<String> + Copy + Send + Sync {
    move || error.get().filter(|e| e.field() == Some(name)).map(|e| e.message)
}

/// The label, hint and error parts shared by the inputs below, ids prefixed with the form's.
struct Parts {
    id: String,
    hint_id: String,
    error_id: String,
    described_by: String,
}

fn parts(form: &str, name: &str, hint: &str) -> Parts {
    let id = format!("{form}-{name}");
    let (hint_id, error_id) = (format!("{id}-hint"), format!("{id}-error"));
    let described_by = if hint.is_empty() { error_id.clone() } else { format!("{hint_id} {error_id}") };
    Parts { id, hint_id, error_id, described_by }
}

/// A labelled input whose ids carry the form's name, for pages where two forms share field names.
#[component]
pub fn Input(
    form: &'static str,
    name: &'static str,
    label: &'static str,
    #[prop(default = "text")] kind: &'static str,
    #[prop(optional)] required: bool,
    #[prop(optional, into)] value: Option<String>,
    #[prop(optional)] placeholder: &'static str,
    #[prop(optional)] hint: &'static str,
    error: ActionError,
) -> impl IntoView {
    let Parts { id, hint_id, error_id, described_by } = parts(form, name, hint);
    let message = field_error(error, name);
    view! {
        <div class="field">
            <label for=id.clone()>{label}</label>
            {(!hint.is_empty()).then(|| view! { <p id=hint_id class="hint">{hint}</p> })}
            <input id=id type=kind name=name value=value placeholder=placeholder required=required autocomplete="off"
                aria-describedby=described_by aria-invalid=move || message().is_some().to_string()/>
            {move || message().map(|m| view! { <p id=error_id.clone() class="field-error" role="alert">{m}</p> })}
        </div>
    }
}

/// A labelled select, ids prefixed with the form's name like `Input`.
#[component]
pub fn Select(
    form: &'static str,
    name: &'static str,
    label: &'static str,
    error: ActionError,
    children: Children,
) -> impl IntoView {
    let Parts { id, error_id, described_by, .. } = parts(form, name, "");
    let message = field_error(error, name);
    view! {
        <div class="field">
            <label for=id.clone()>{label}</label>
            <select id=id name=name aria-describedby=described_by aria-invalid=move || message().is_some().to_string()>
                {children()}
            </select>
            {move || message().map(|m| view! { <p id=error_id.clone() class="field-error" role="alert">{m}</p> })}
        </div>
    }
}

/// A labelled text area, ids prefixed with the form's name like `Input`.
#[component]
pub fn TextArea(
    form: &'static str,
    name: &'static str,
    label: &'static str,
    #[prop(optional)] placeholder: &'static str,
    #[prop(optional)] hint: &'static str,
    error: ActionError,
) -> impl IntoView {
    let Parts { id, hint_id, error_id, described_by } = parts(form, name, hint);
    let message = field_error(error, name);
    view! {
        <div class="field">
            <label for=id.clone()>{label}</label>
            {(!hint.is_empty()).then(|| view! { <p id=hint_id class="hint">{hint}</p> })}
            <textarea id=id name=name rows="4" placeholder=placeholder spellcheck="false"
                aria-describedby=described_by aria-invalid=move || message().is_some().to_string()></textarea>
            {move || message().map(|m| view! { <p id=error_id.clone() class="field-error" role="alert">{m}</p> })}
        </div>
    }
}

/// A consequential action behind a confirmation, for pages without scripts too: `label` opens it,
/// `warning` says what will happen, and the children are the form that does it.
#[component]
pub fn Confirm(
    label: &'static str,
    #[prop(optional)] small: bool,
    #[prop(optional)] danger: bool,
    #[prop(optional, into)] warning: Option<String>,
    children: Children,
) -> impl IntoView {
    let class = format!("button {}{}", if danger { "danger" } else { "secondary" }, if small { " small" } else { "" });
    view! {
        <details class="confirm">
            <summary class=class role="button">{label}</summary>
            {warning.map(|warning| view! { <p>{warning}</p> })}
            {children()}
        </details>
    }
}
