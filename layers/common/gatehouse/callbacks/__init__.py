"""Campaign callbacks: lifecycle events POSTed to a campaign's callbackUrl, signed as Standard Webhooks."""
