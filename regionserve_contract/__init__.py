"""The model contract: what `model_export` writes beside and into an ONNX file and what
`service` reads back (metadata keys and version, image dtypes and preprocessing, file names,
the tolerance outputs are held to). Both sides import it; it imports only numpy, so the
service still never imports TensorFlow."""
