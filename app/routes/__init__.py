"""HTTP routes: parse, validate, call the service, map errors. No media or task logic here."""
