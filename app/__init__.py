"""ModelLab: an async REST service that lip-syncs a talking-head video to new speech."""
