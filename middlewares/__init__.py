"""Update middlewares, outermost first: metrics, throttle (one person's flood), errors, user,
locale; inner ones around each handler: its scope (for error records) and the button answer."""
