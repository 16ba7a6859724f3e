"""Block Kit facts the validator checks against (api.slack.com/reference/block-kit)."""

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_ID = 255  # block_id, action_id, callback_id, external_id

# Keys each block type may carry besides "type" and "block_id".
BLOCK_KEYS: dict[str, frozenset[str]] = {
    "section": frozenset({"text", "fields", "accessory", "expand"}),
    "header": frozenset({"text"}),
    "context": frozenset({"elements"}),
    "actions": frozenset({"elements"}),
    "divider": frozenset(),
    "input": frozenset({"label", "element", "hint", "optional", "dispatch_action"}),
    "image": frozenset({"image_url", "slack_file", "alt_text", "title"}),
    "rich_text": frozenset({"elements"}),
}

_PICKER = frozenset({"placeholder", "confirm", "focus_on_load"})
_TYPED_INPUT = frozenset({"placeholder", "initial_value", "dispatch_action_config", "focus_on_load"})

# Keys each interactive element may carry besides "type" and "action_id".
ELEMENT_KEYS: dict[str, frozenset[str]] = {
    "button": frozenset({"text", "url", "value", "style", "confirm", "accessibility_label"}),
    "static_select": _PICKER | {"options", "option_groups", "initial_option"},
    "multi_static_select": _PICKER | {"options", "option_groups", "initial_options", "max_selected_items"},
    "external_select": _PICKER | {"initial_option", "min_query_length"},
    "multi_external_select": _PICKER | {"initial_options", "min_query_length", "max_selected_items"},
    "users_select": _PICKER | {"initial_user"},
    "multi_users_select": _PICKER | {"initial_users", "max_selected_items"},
    "conversations_select": _PICKER
    | {"initial_conversation", "default_to_current_conversation", "response_url_enabled", "filter"},
    "multi_conversations_select": _PICKER
    | {"initial_conversations", "default_to_current_conversation", "max_selected_items", "filter"},
    "channels_select": _PICKER | {"initial_channel", "response_url_enabled"},
    "multi_channels_select": _PICKER | {"initial_channels", "max_selected_items"},
    "checkboxes": frozenset({"options", "initial_options", "confirm", "focus_on_load"}),
    "radio_buttons": frozenset({"options", "initial_option", "confirm", "focus_on_load"}),
    "overflow": frozenset({"options", "confirm"}),
    "datepicker": _PICKER | {"initial_date"},
    "timepicker": _PICKER | {"initial_time", "timezone"},
    "datetimepicker": frozenset({"initial_date_time", "confirm", "focus_on_load"}),
    "plain_text_input": _TYPED_INPUT | {"multiline", "min_length", "max_length"},
    "email_text_input": _TYPED_INPUT,
    "url_text_input": _TYPED_INPUT,
    "number_input": _TYPED_INPUT | {"is_decimal_allowed", "min_value", "max_value"},
    "rich_text_input": _TYPED_INPUT,
}

_CHOOSERS = frozenset(
    {
        "static_select",
        "multi_static_select",
        "external_select",
        "multi_external_select",
        "users_select",
        "multi_users_select",
        "conversations_select",
        "multi_conversations_select",
        "channels_select",
        "multi_channels_select",
        "checkboxes",
        "radio_buttons",
        "datepicker",
        "timepicker",
    }
)
# Which elements each container accepts.
SECTION_ACCESSORIES = _CHOOSERS | {"button", "overflow", "image"}
ACTIONS_ELEMENTS = _CHOOSERS | {"button", "overflow", "datetimepicker"}
INPUT_ELEMENTS = _CHOOSERS | {
    "datetimepicker",
    "plain_text_input",
    "email_text_input",
    "url_text_input",
    "number_input",
    "rich_text_input",
}

# Elements whose options are required, with the (min, max) count Slack allows.
OPTION_COUNTS: dict[str, tuple[int, int]] = {
    "static_select": (1, 100),
    "multi_static_select": (1, 100),
    "checkboxes": (1, 10),
    "radio_buttons": (1, 10),
    "overflow": (1, 5),
}

TEXT_TYPES = frozenset({"plain_text", "mrkdwn"})
TEXT_KEYS = frozenset({"type", "text", "emoji", "verbatim"})
OPTION_KEYS = frozenset({"text", "value", "description", "url"})
CONFIRM_KEYS = frozenset({"title", "text", "confirm", "deny", "style"})
IMAGE_ELEMENT_KEYS = frozenset({"type", "image_url", "slack_file", "alt_text"})
BUTTON_STYLES = frozenset({"primary", "danger"})
