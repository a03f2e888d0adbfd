"""Update middlewares, outermost first: metrics, errors, user, locale; inner ones around each
handler: its scope (for error records) and the button answer."""
