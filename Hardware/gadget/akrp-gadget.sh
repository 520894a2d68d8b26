#!/bin/sh
# Makes the relay box's USB device port a CDC-ACM serial port (configfs `acm` function) for the
# management interface: the box sees /dev/ttyGS0 (akrpd: `[management] serial = /dev/ttyGS0`), the
# operator's laptop sees /dev/ttyACM* (akrpctl --port, smpmgr --port). See Hardware/gadget/README.md.
#
#   akrp-gadget.sh up [SERIAL]   create and bind the gadget (SERIAL: the box's serial number string,
#                                default: the machine ID's first 12 characters)
#   akrp-gadget.sh down          unbind and remove it
#
# Needs root, configfs mounted at /sys/kernel/config, and a UDC (a USB device controller: e.g. dwc2 on
# a Raspberry Pi with dtoverlay=dwc2, or the SoC's OTG port); the modules libcomposite and usb_f_acm.
set -eu

G=/sys/kernel/config/usb_gadget/akrp
# pid.codes test IDs (as the QKD devices' 1209:0001, Hardware/QKD-USB.md): production IDs to be assigned.
VENDOR=0x1209
PRODUCT=0x0002

up() {
    serial=${1:-$(cut -c1-12 /etc/machine-id 2>/dev/null || echo akrp-box)}
    modprobe libcomposite 2>/dev/null || true
    [ -d /sys/kernel/config/usb_gadget ] || mount -t configfs none /sys/kernel/config
    udc=$(ls /sys/class/udc 2>/dev/null | head -n 1)
    [ -n "$udc" ] || { echo "akrp-gadget: no USB device controller (UDC) on this machine" >&2; exit 1; }
    [ -d "$G" ] && { echo "akrp-gadget: $G exists (run: $0 down)" >&2; exit 1; }
    mkdir -p "$G"
    echo "$VENDOR" > "$G/idVendor"
    echo "$PRODUCT" > "$G/idProduct"
    echo 0x0100 > "$G/bcdDevice"
    echo 0x0200 > "$G/bcdUSB"
    # Composite class codes (IAD): lets hosts bind cdc_acm to the ACM function.
    echo 0xEF > "$G/bDeviceClass"
    echo 0x02 > "$G/bDeviceSubClass"
    echo 0x01 > "$G/bDeviceProtocol"
    mkdir -p "$G/strings/0x409"
    echo "AKRP" > "$G/strings/0x409/manufacturer"
    echo "AKRP relay box management" > "$G/strings/0x409/product"
    echo "$serial" > "$G/strings/0x409/serialnumber"
    mkdir -p "$G/configs/c.1/strings/0x409"
    echo "SMP management" > "$G/configs/c.1/strings/0x409/configuration"
    echo 100 > "$G/configs/c.1/MaxPower"
    mkdir -p "$G/functions/acm.smp"
    ln -s "$G/functions/acm.smp" "$G/configs/c.1/"
    echo "$udc" > "$G/UDC"
    port=$(cat "$G/functions/acm.smp/port_num" 2>/dev/null || echo 0)
    echo "akrp-gadget: bound to $udc as $VENDOR:$PRODUCT serial $serial; the box's line is /dev/ttyGS$port"
}

down() {
    [ -d "$G" ] || exit 0
    echo "" > "$G/UDC" 2>/dev/null || true
    rm -f "$G/configs/c.1/acm.smp"
    rmdir "$G/configs/c.1/strings/0x409" "$G/configs/c.1" "$G/functions/acm.smp" "$G/strings/0x409" "$G"
    echo "akrp-gadget: removed"
}

case "${1:-}" in
up) shift; up "$@" ;;
down) down ;;
*) echo "usage: $0 up [SERIAL] | down" >&2; exit 2 ;;
esac
