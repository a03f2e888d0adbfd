"""Update middlewares, outermost first: errors, user, locale."""
