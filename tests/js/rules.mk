# The AWS SDK for JavaScript v3, a real client for test_js_sdk.py: the exact
# versions package-lock.json pins, from the npm registry (npm ci).
JS_DEPS := tests/js/node_modules/.package-lock.json
$(JS_DEPS): tests/js/package-lock.json tests/js/package.json
	cd tests/js && npm ci --no-audit --no-fund --loglevel=error
	@touch $@
js-deps: $(JS_DEPS)
integration: $(JS_DEPS)

.PHONY: js-deps
