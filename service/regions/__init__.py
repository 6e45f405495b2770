"""One image's regions: decoded, prepared per mode (boxes, proposals, superpixels, extra inputs),
run through the pipeline, labelled, and answered as one typed answer. No HTTP here."""
