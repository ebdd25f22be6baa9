# Sourced by the GPU reports' launchers from the repository root:
#   . tools/_carried_wheels.sh WHEELS SITE
# Unless the OpenMMLab stack and decord import, installs the wheels carried
# in WHEELS into SITE and puts SITE on PYTHONPATH. The optional GPU decoding
# wheels (torchcodec, PyNvVideoCodec, imageio-ffmpeg) are left out: the data
# report installs each on its own. Fails (2) without wheels, else as pip.
if ! "${PYTHON:-python3}" -c 'import mmengine, mmcv, mmaction, mmpretrain, decord' 2>/dev/null; then
    carried=()
    shopt -s nullglob nocasematch
    for wheel in "$1"/*.whl; do
        [[ ${wheel##*/} =~ ^(torchcodec|pynvvideocodec|imageio_ffmpeg)- ]] || carried+=("$wheel")
    done
    shopt -u nullglob nocasematch
    if [ ${#carried[@]} = 0 ]; then
        echo "mmengine/mmcv/mmaction/mmpretrain/decord do not import and $1 holds no wheels" >&2
        return 2
    fi
    echo "installing ${#carried[@]} wheels from $1 into $2" >&2
    "${PYTHON:-python3}" -m pip install -q --no-index --no-deps --no-compile \
        --no-cache-dir --upgrade --target "$2" "${carried[@]}" || return
    export PYTHONPATH="$2${PYTHONPATH:+:$PYTHONPATH}"
fi
