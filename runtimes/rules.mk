# Runtime images (runtimes/README.md): `make runtimes` builds
# $(BUILD)/runtimes/<name>.erofs from Debian packages with runtimes/build.sh.
# An image is rebuilt only when its recipe changes: the build script, the
# package lists, the shared rootfs files or the image's own shim files.
# (A newer Debian package alone does not trigger a rebuild: `make
# runtimes-clean runtimes` picks it up.)

RUNTIMES := provided python nodejs
RUNTIME_IMAGES := $(RUNTIMES:%=$(BUILD)/runtimes/%.erofs)
RUNTIME_COMMON := runtimes/build.sh runtimes/exclude.packages runtimes/base/packages \
	$(shell find runtimes/base/rootfs -type f 2>/dev/null)

define runtime_rule
$(BUILD)/runtimes/$(1).erofs: $(RUNTIME_COMMON) runtimes/$(1)/packages \
		$(shell find runtimes/$(1)/runtime -type f 2>/dev/null) | deps
	./runtimes/build.sh $(1) $(BUILD)/runtimes
endef
$(foreach r,$(RUNTIMES),$(eval $(call runtime_rule,$(r))))

# emberd reads runtimes.json (Lambda runtime name -> image) from the same
# folder as the images; `all` copies it too, so emberd runs without the
# (slow) images, e.g. for the API tests.
$(BUILD)/runtimes/runtimes.json: runtimes/runtimes.json
	@mkdir -p $(@D)
	cp $< $@

runtimes: $(RUNTIME_IMAGES) $(BUILD)/runtimes/runtimes.json
all: $(BUILD)/runtimes/runtimes.json

runtimes-clean:
	rm -rf $(RUNTIMES:%=$(BUILD)/runtimes/%.root) $(RUNTIME_IMAGES) \
		$(RUNTIMES:%=$(BUILD)/runtimes/%.versions)

# The runtime image tests (tests/integration/test_runtime_images.py) need them.
integration: runtimes

.PHONY: runtimes runtimes-clean
